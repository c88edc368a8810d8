"""Ulysses sequence parallelism with DeepSpeed's DistributedAttention: an all-to-all turns each
rank's slice of the sequence (all heads) into the whole sequence for a slice of the heads, attention
runs locally, and a second all-to-all turns it back. The mask is built from every token's index in
the full sequence and its document, gathered from the ranks, so a zigzag split and packed rows give
what full attention gives. The KV heads must split evenly over the ranks (DeepSpeed's uneven path ignores the group given):
otherwise take the ring. The mask is built once for a split's index and documents and reused by
every layer (and by activation checkpointing's recompute) while they are the same tensors; it is
dense (tokens x tokens), which bounds this backend's length where the ring's blocks do not."""
from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F

from .ring import visible


def _gathered(x: torch.Tensor, group) -> torch.Tensor:
    """Every rank's (batch, tokens) tensor joined along the sequence, in rank order (the order in
    which the all-to-all gathers the sequence)."""
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size(group))]
    dist.all_gather(parts, x.contiguous(), group=group)
    return torch.cat(parts, dim=1)


class _LocalAttention(torch.nn.Module):
    """Attention over the whole (gathered) sequence for this rank's heads; (batch, tokens, heads, dim)."""

    def forward(self, q, k, v, mask):
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                             attn_mask=mask, enable_gqa=q.shape[2] != k.shape[2])
        return out.transpose(1, 2)


_last: list[tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]] = []     # (index, doc, mask)


def _mask(index: torch.Tensor, doc: torch.Tensor | None, group) -> torch.Tensor:
    """The full sequence's mask; the last one again when asked for the same index and doc tensors
    (every layer of one forward: each rank asks in the same order, so the gathers stay matched)."""
    if _last and _last[0][0] is index and _last[0][1] is doc:
        return _last[0][2]
    full_index = _gathered(index, group)
    full_doc = _gathered(doc, group) if doc is not None else None
    mask = visible(full_index, full_index, full_doc, full_doc)
    _last[:] = [(index, doc, mask)]          # holding the tensors: their ids cannot be reused meanwhile
    return mask


def ulysses_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, index: torch.Tensor,
                      doc: torch.Tensor | None = None, group: dist.ProcessGroup | None = None) -> torch.Tensor:
    """As ring_attention (q: (batch, heads, tokens, head_dim) of this rank's tokens; index and doc:
    (batch, tokens)), by all-to-all over `group` (default: the world)."""
    from deepspeed.sequence.layer import DistributedAttention

    world = dist.get_world_size(group)
    if k.shape[1] % world:
        raise ValueError(f"Ulysses needs the KV heads split evenly over the sequence-parallel ranks ({k.shape[1]} "
                         f"KV heads, {world} ranks): use the ring backend")
    layer = DistributedAttention(_LocalAttention(), group or dist.group.WORLD, scatter_idx=2, gather_idx=1)
    out = layer(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), 0, None, _mask(index, doc, group))
    return out.transpose(1, 2)
