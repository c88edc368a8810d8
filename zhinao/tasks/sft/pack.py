"""Packing tokenized samples into rows of max_len tokens for training.

Every sample's targets are computed on the sample alone: the target at token t is token t+1 when
t+1 is an assistant token, else -100, and a sample's last token predicts nothing. So however the
samples are laid out, a loss term is always one sample's own next assistant token.

- naive (the default, as the 360Zhinao report trained): the samples, shuffled, are concatenated and
  cut into rows of max_len; a sample may continue in the next row, and attention crosses samples
  (never labels). Nearly no padding. With `reset_positions` each sample's positions start at 0
  (long-context phases: a position means the same distance in every sample).
- document: whole samples placed into rows by best-fit decreasing; each token's position restarts
  at its sample's start and attention stays inside its sample (the row's `docs` number the
  samples), so training sees each sample exactly as unpacked training does.
- none: one sample per row, padded to max_len (what packing is measured against).

A sample longer than max_len is cut to max_len tokens (overlong=truncate) or dropped (drop); one
left without a target is dropped, each counted by reason."""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import numpy as np

MODES = ("naive", "document", "none")
IGNORE = -100


@dataclass
class Sample:
    ids: np.ndarray                 # int32 token ids
    trained: np.ndarray             # bool: the token is an assistant token

    def targets(self) -> np.ndarray:
        y = np.full(len(self.ids), IGNORE, dtype=np.int32)
        y[:-1] = np.where(self.trained[1:], self.ids[1:], IGNORE)
        return y


@dataclass
class Packed:
    arrays: dict[str, np.ndarray]           # tokens, targets, real (+ positions, docs), each (rows, max_len)
    dropped: dict[str, int] = field(default_factory=dict)
    truncated: int = 0
    samples: int = 0

    @property
    def rows(self) -> int:
        return int(self.arrays["tokens"].shape[0])

    def training_arrays(self) -> dict[str, np.ndarray]:
        """What the ranks read (zhinao/model/packed.py): all but the padding mask."""
        return {k: v for k, v in self.arrays.items() if k != "real"}

    def stats(self) -> dict[str, float]:
        real = self.arrays["real"]
        cells = int(real.size)
        return {"rows": self.rows, "samples": self.samples, "tokens": int(real.sum()),
                "target_tokens": int((self.arrays["targets"] != IGNORE).sum()),
                "non_padding_share": float(real.sum()) / cells if cells else 0.0}


def fit(samples: list[Sample], max_len: int, overlong: str) -> tuple[list[Sample], dict[str, int], int]:
    """The samples as they can be trained at max_len: (kept, dropped by reason, truncated)."""
    if overlong not in ("truncate", "drop"):
        raise ValueError(f"overlong {overlong!r}: choose truncate or drop")
    kept, dropped, truncated = [], {}, 0
    for s in samples:
        if len(s.ids) > max_len:
            if overlong == "drop":
                dropped["longer_than_max_len"] = dropped.get("longer_than_max_len", 0) + 1
                continue
            s, truncated = Sample(s.ids[:max_len], s.trained[:max_len]), truncated + 1
        if not (s.targets() != IGNORE).any():
            dropped["no_target_within_max_len"] = dropped.get("no_target_within_max_len", 0) + 1
            continue
        kept.append(s)
    return kept, dropped, truncated


def pack(samples: list[Sample], max_len: int, mode: str = "naive", pad_id: int = 0, seed: int = 0,
         overlong: str = "truncate", reset_positions: bool = False) -> Packed:
    if mode not in MODES:
        raise ValueError(f"packing {mode!r}: choose one of {', '.join(MODES)}")
    kept, dropped, truncated = fit(samples, max_len, overlong)
    layout = {"naive": _naive, "document": _document, "none": _unpacked}[mode]
    reset = {"reset_positions": reset_positions} if mode == "naive" else {}
    arrays = layout(kept, max_len, pad_id, seed, **reset) if kept else _empty(max_len, mode, **reset)
    return Packed(arrays, dropped, truncated, len(kept))


def _empty(max_len: int, mode: str, reset_positions: bool = False) -> dict[str, np.ndarray]:
    names = ("tokens", "targets", "real") + (("positions", "docs") if mode == "document" else ())
    names += ("positions",) if reset_positions else ()
    return {n: np.zeros((0, max_len), dtype=bool if n == "real" else np.int32) for n in names}


def _grid(rows: int, max_len: int, pad_id: int) -> dict[str, np.ndarray]:
    return {"tokens": np.full((rows, max_len), pad_id, dtype=np.int32),
            "targets": np.full((rows, max_len), IGNORE, dtype=np.int32),
            "real": np.zeros((rows, max_len), dtype=bool)}


def _naive(samples: list[Sample], max_len: int, pad_id: int, seed: int,
           reset_positions: bool = False) -> dict[str, np.ndarray]:
    order = np.random.default_rng(seed).permutation(len(samples))
    ids = np.concatenate([samples[i].ids for i in order])
    targets = np.concatenate([samples[i].targets() for i in order])
    rows = -(-len(ids) // max_len)
    out = _grid(rows, max_len, pad_id)
    columns = [("tokens", ids), ("targets", targets), ("real", np.ones(len(ids), dtype=bool))]
    if reset_positions:         # each token's position within its own sample
        out["positions"] = np.zeros((rows, max_len), dtype=np.int32)
        columns.append(("positions", np.concatenate([np.arange(len(samples[i].ids), dtype=np.int32) for i in order])))
    for name, values in columns:
        out[name].reshape(-1)[:len(ids)] = values
    # a row cut from the middle of a prompt can hold no target at all: it would only cost compute
    keep = (out["targets"] != IGNORE).any(axis=1)
    return {k: v[keep] for k, v in out.items()}


def _document(samples: list[Sample], max_len: int, pad_id: int, seed: int) -> dict[str, np.ndarray]:
    bins = best_fit_decreasing([len(s.ids) for s in samples], max_len)
    out = _grid(len(bins), max_len, pad_id)
    out["positions"] = np.zeros((len(bins), max_len), dtype=np.int32)
    out["docs"] = np.zeros((len(bins), max_len), dtype=np.int32)       # 0: padding
    for r, members in enumerate(bins):
        at = 0
        for doc, i in enumerate(members, start=1):
            s, n = samples[i], len(samples[i].ids)
            out["tokens"][r, at:at + n] = s.ids
            out["targets"][r, at:at + n] = s.targets()
            out["positions"][r, at:at + n] = np.arange(n)
            out["docs"][r, at:at + n] = doc
            out["real"][r, at:at + n] = True
            at += n
    return out


def _unpacked(samples: list[Sample], max_len: int, pad_id: int, seed: int) -> dict[str, np.ndarray]:
    out = _grid(len(samples), max_len, pad_id)
    for r, s in enumerate(samples):
        out["tokens"][r, :len(s.ids)] = s.ids
        out["targets"][r, :len(s.ids)] = s.targets()
        out["real"][r, :len(s.ids)] = True
    return out


def best_fit_decreasing(lengths: list[int], capacity: int) -> list[list[int]]:
    """Items (each <= capacity) into as few bins as best-fit decreasing finds: longest first, each
    into the open bin it fills most tightly. Bins list item indices."""
    bins: list[list[int]] = []
    free: list[tuple[int, int]] = []          # (space left, bin), sorted
    for i in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        n = lengths[i]
        k = bisect.bisect_left(free, (n, -1))
        if k < len(free):
            space, b = free.pop(k)
        else:
            space, b = capacity, len(bins)
            bins.append([])
        bins[b].append(i)
        if space - n > 0:
            bisect.insort(free, (space - n, b))
    return bins


def dynamic_padding_share(samples: list[Sample], batch: int, max_len: int, seed: int = 0) -> float:
    """Without packing, batches padded only to their longest sample: the share of real tokens."""
    kept, _, _ = fit(samples, max_len, "truncate")
    order = np.random.default_rng(seed).permutation(len(kept))
    lengths = np.array([len(kept[i].ids) for i in order], dtype=np.int64)
    cells = sum(len(chunk) * int(chunk.max()) for chunk in (lengths[k:k + batch] for k in range(0, len(lengths), batch)))
    return float(lengths.sum()) / cells if cells else 0.0
