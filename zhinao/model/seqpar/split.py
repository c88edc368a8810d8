"""How a sequence is split across sequence-parallel ranks. Zigzag: the sequence is cut into 2P
chunks and rank r holds chunks r and 2P-1-r, so under a causal mask every rank has the same work
(an early chunk attends to little, its late partner to much)."""
from __future__ import annotations

import torch


def zigzag_index(length: int, world: int, rank: int, device=None) -> torch.Tensor:
    """The positions in the full sequence (0..length-1) that `rank` holds, in order."""
    if length % (2 * world):
        raise ValueError(f"a sequence of {length} tokens does not split into 2 x {world} equal chunks: "
                         f"pad it to a multiple of {2 * world}")
    chunk = length // (2 * world)
    first = torch.arange(rank * chunk, (rank + 1) * chunk, device=device)
    last = torch.arange((2 * world - 1 - rank) * chunk, (2 * world - rank) * chunk, device=device)
    return torch.cat([first, last])


def shard(x: torch.Tensor, world: int, rank: int, dim: int = 1) -> torch.Tensor:
    """The rank's zigzag part of `x` along `dim` (the sequence)."""
    return x.index_select(dim, zigzag_index(x.shape[dim], world, rank, x.device))


def unshard(parts: list[torch.Tensor], dim: int = 1) -> torch.Tensor:
    """The full sequence from every rank's part (rank order), the inverse of shard."""
    world = len(parts)
    length = sum(p.shape[dim] for p in parts)
    order = torch.cat([zigzag_index(length, world, r, parts[0].device) for r in range(world)])
    joined = torch.cat(parts, dim=dim)
    return joined.index_select(dim, torch.argsort(order))
