"""Training batches from token shards: every shard's stream cut into windows of seq_len + 1 tokens,
the windows shuffled once by a seed. Step k always gets the same batch, so a resumed run sees exactly
the data order of an uninterrupted one."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


class TokenWindows:
    def __init__(self, folder: str | Path, seq_len: int, seed: int = 0, valid_fraction: float = 0.0):
        self.folder, self.seq_len = Path(folder), seq_len
        names = sorted(p.stem for p in self.folder.glob("*.bin"))
        if not names:
            raise FileNotFoundError(f"{folder}: no token shards (*.bin)")
        self.streams = [np.memmap(self.folder / f"{n}.bin", dtype="<u4", mode="r") for n in names]
        counts = [max(0, (len(s) - 1) // seq_len) for s in self.streams]
        self.windows = [(i, k * seq_len) for i, c in enumerate(counts) for k in range(c)]
        if not self.windows:
            raise ValueError(f"{folder}: fewer than {seq_len + 1} tokens per shard; lower seq_len")
        order = np.random.default_rng(seed).permutation(len(self.windows))
        n_valid = int(round(valid_fraction * len(order))) if len(order) > 1 else 0
        n_valid = min(max(n_valid, 1 if valid_fraction > 0 else 0), len(order) - 1)
        # the held-out windows: the permutation's tail, never trained on
        self.order, self.valid = order[:len(order) - n_valid], order[len(order) - n_valid:]

    @property
    def tokens(self) -> int:
        return int(sum(len(s) for s in self.streams))

    def __len__(self) -> int:
        return len(self.order)

    def batch(self, step: int, batch_size: int, rank: int = 0, world: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs, targets), each (batch_size, seq_len), for this rank at this step (wrapping epochs)."""
        picks = [self.order[((step * world + rank) * batch_size + j) % len(self.order)] for j in range(batch_size)]
        return self._rows(picks)

    def valid_batches(self, batch_size: int, max_batches: int, every_window: bool = False):
        """Validation batches, the same on every call: the held-out windows, or (for a separate
        validation folder) all windows."""
        pool = np.arange(len(self.windows)) if every_window else self.valid
        for k in range(min(max_batches, -(-len(pool) // batch_size))):
            yield self._rows(pool[k * batch_size:(k + 1) * batch_size])

    def _rows(self, picks) -> tuple[torch.Tensor, torch.Tensor]:
        rows = []
        for i in picks:
            stream, start = self.streams[self.windows[i][0]], self.windows[i][1]
            rows.append(np.asarray(stream[start:start + self.seq_len + 1], dtype=np.int64))
        data = torch.from_numpy(np.stack(rows))
        return data[:, :-1], data[:, 1:]
