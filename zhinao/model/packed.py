"""Packed chat samples as training batches: the numpy files the SFT stage writes (zhinao/tasks/sft/pack.py)
and every rank memory-maps. A split is `max_len`-token rows of input tokens and targets (-100 where
nothing is trained), plus, for document-masked packing, each token's position within its sample
and its sample's number in the row (the forward keeps attention inside a sample).

Epochs: every epoch visits all training rows once, in its own seeded order; the last optimizer step
of an epoch is filled up with rows from the start of that order. Step k always gets the same rows,
so a resumed run sees exactly the data order of an uninterrupted one."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

LAYOUT = "packing.json"
ARRAYS = ("tokens", "targets", "positions", "docs")        # the last two: document-masked packing only


def write_packed(folder: str | Path, splits: dict[str, dict[str, np.ndarray]], info: dict) -> Path:
    """splits: {"train": {...}, "valid": {...}}, each {array name: (rows, max_len) int array}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = {}
    for split, arrays in splits.items():
        shapes = {a.shape for a in arrays.values()}
        if len(shapes) != 1 or len(next(iter(shapes))) != 2 or not {"tokens", "targets"} <= set(arrays):
            raise ValueError(f"split {split!r}: tokens and targets (and positions, docs) of one (rows, max_len) shape")
        for name, a in arrays.items():
            np.save(folder / f"{split}-{name}.npy", np.ascontiguousarray(a, dtype=np.int32))
        rows[split] = int(arrays["tokens"].shape[0])
    (folder / LAYOUT).write_text(json.dumps(info | {"rows": rows}, indent=2))
    return folder


def steps_per_epoch(rows: int, batch: int) -> int:
    """Optimizer steps that visit `rows` training rows once, `batch` rows a step (the last one filled up)."""
    return max(1, -(-rows // batch))


class PackedSamples:
    def __init__(self, folder: str | Path, seed: int = 0, batch: int = 1):
        """batch: rows per optimizer step over all ranks (micro_batch x grad_accum x world)."""
        self.folder, self.seed, self.global_batch = Path(folder), seed, batch
        if not (self.folder / LAYOUT).exists():
            raise FileNotFoundError(f"{folder}: no packed samples ({LAYOUT} missing)")
        self.info = json.loads((self.folder / LAYOUT).read_text())
        self.train, self.valid = self._split("train"), self._split("valid")
        if len(self) == 0:
            raise ValueError(f"{folder}: no training rows")
        self.epoch_slots = steps_per_epoch(len(self), batch) * batch
        self._order: tuple[int, np.ndarray] | None = None

    def _split(self, split: str) -> dict[str, np.ndarray]:
        files = {n: self.folder / f"{split}-{n}.npy" for n in ARRAYS}
        return {n: np.load(f, mmap_mode="r") for n, f in files.items() if f.exists()}

    def __len__(self) -> int:
        return int(self.train["tokens"].shape[0]) if self.train else 0

    @property
    def seq_len(self) -> int:
        return int(self.train["tokens"].shape[1])

    def order(self, epoch: int) -> np.ndarray:
        if self._order is None or self._order[0] != epoch:
            self._order = (epoch, np.random.default_rng([self.seed, epoch]).permutation(len(self)))
        return self._order[1]

    def batch(self, index: int, batch_size: int, rank: int = 0, world: int = 1):
        """(tokens, targets, positions, doc_ids) of micro-batch `index` (step x grad_accum + micro)
        for this rank; positions and doc_ids are None unless the rows are document-masked."""
        picks = []
        for j in range(batch_size):
            slot = (index * world + rank) * batch_size + j
            epoch, k = divmod(slot, self.epoch_slots)
            picks.append(self.order(epoch)[k % len(self)])
        return self._rows(self.train, np.asarray(picks))

    def valid_batches(self, batch_size: int, max_batches: int, every_window: bool = False):
        """The held-out rows in order (all of them, up to max_batches), the same on every call."""
        n = int(self.valid["tokens"].shape[0]) if self.valid else 0
        for k in range(min(max_batches, -(-n // batch_size))):
            yield self._rows(self.valid, np.arange(k * batch_size, min(n, (k + 1) * batch_size)))

    @staticmethod
    def _rows(split: dict[str, np.ndarray], picks: np.ndarray):
        def take(name: str) -> torch.Tensor | None:
            return torch.from_numpy(np.asarray(split[name][picks], dtype=np.int64)) if name in split else None

        return take("tokens"), take("targets"), take("positions"), take("docs")
