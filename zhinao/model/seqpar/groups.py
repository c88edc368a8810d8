"""The training ranks as sequence-parallel groups: consecutive ranks share one sequence (each holds
its zigzag part), and the groups are data parallel to one another. A group's ranks read the same
rows; each cuts out its part of the tokens, targets, positions and documents."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist

from .attention import Split
from .split import shard


@dataclass
class SequenceGroup:
    size: int
    rank: int                       # within the group
    dp_rank: int                    # which group
    dp_size: int                    # how many groups
    backend: str
    group: dist.ProcessGroup

    @classmethod
    def start(cls, size: int, backend: str) -> "SequenceGroup":
        """Every rank must call this (each group is made by all ranks, in order)."""
        rank, world = dist.get_rank(), dist.get_world_size()
        if world % size:
            raise ValueError(f"{world} ranks do not make groups of sp_size {size}")
        mine = None
        for g in range(world // size):
            made = dist.new_group(list(range(g * size, (g + 1) * size)))
            if g == rank // size:
                mine = made
        return cls(size, rank % size, rank // size, world // size, backend, mine)

    def part(self, tokens: torch.Tensor, targets: torch.Tensor, positions: torch.Tensor | None,
             docs: torch.Tensor | None) -> tuple[tuple[torch.Tensor, ...], dict]:
        """This rank's part of a batch of whole rows: (tokens, targets, positions, docs) and the
        forward's keyword arguments (the split). Rows without positions count from 0."""
        b, t = tokens.shape
        index = torch.arange(t, device=tokens.device).expand(b, t)
        positions = index if positions is None else positions
        cut = [None if x is None else shard(x, self.size, self.rank) for x in (tokens, targets, positions, docs, index)]
        split = Split(index=cut[4], doc=cut[3], backend=self.backend, group=self.group)
        return (cut[0], cut[1], cut[2], None), {"split": split}

    def mean(self, share: torch.Tensor) -> torch.Tensor:
        """The group's mean loss from each rank's share (shares add up to size x mean)."""
        total = share.detach().clone()
        dist.all_reduce(total, group=self.group)
        return total / self.size
