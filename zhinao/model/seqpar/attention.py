"""One interface, two backends: attention of this rank's slice of a sequence over the whole of it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.distributed as dist

Backend = Literal["ring", "ulysses"]


@dataclass
class Split:
    """This rank's part of a sequence split over a sequence-parallel group: each token's index in
    the full sequence, its document (packed rows) or None, and how attention reaches the rest."""
    index: torch.Tensor
    doc: torch.Tensor | None = None
    backend: Backend = "ring"
    group: dist.ProcessGroup | None = None


def sequence_parallel_attention(backend: Backend, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                index: torch.Tensor, doc: torch.Tensor | None = None,
                                group: dist.ProcessGroup | None = None) -> torch.Tensor:
    """q: (batch, heads, tokens, head_dim), k and v: (batch, kv_heads, tokens, head_dim), of this
    rank's tokens; index: (batch, tokens), their places in the full sequence (causality); doc:
    (batch, tokens), their documents in a packed row (attention stays inside one), or None.
    ring: any number of KV heads; ulysses (DeepSpeed): KV heads a multiple of the ranks."""
    if index is None:
        raise ValueError("sequence parallelism needs each token's index in the full sequence (position ids): "
                         "a batch without them cannot be split")
    if backend == "ring":
        from .ring import Ring, ring_attention

        return ring_attention(q, k, v, index, doc, Ring(group))
    if backend == "ulysses":
        from .ulysses import ulysses_attention

        return ulysses_attention(q, k, v, index, doc, group)
    raise ValueError(f"sequence-parallel backend {backend!r}: ring or ulysses")
