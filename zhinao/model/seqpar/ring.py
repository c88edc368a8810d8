"""Ring attention in plain torch: each rank keeps its queries, and the keys and values of every
rank pass around the ring (send to the next rank, receive from the previous) one hop per step.
Each step's block gives a partial output and its log-sum-exp; partials merge exactly
(o = sum_j exp(lse_j - lse) o_j). The backward passes keys and values around again with their
gradient accumulators, which arrive back at their owner after a last hop; no rank ever holds the
whole sequence's keys, and any number of KV heads works (GQA with fewer KV heads than ranks).

Masks come from each token's index in the full sequence (causal: a key at or before the query)
and, for packed rows, its document (a query sees only keys of its own document), so a zigzag or any
other split gives the same result as full attention."""
from __future__ import annotations

import math

import torch
import torch.distributed as dist


class Ring:
    """The ranks of a sequence-parallel group, in ring order."""

    def __init__(self, group: dist.ProcessGroup | None = None):
        self.group = group
        self.world = dist.get_world_size(group)
        self.rank = dist.get_rank(group)
        peer = (lambda r: dist.get_global_rank(group, r)) if group is not None else (lambda r: r)
        self.next, self.prev = peer((self.rank + 1) % self.world), peer((self.rank - 1) % self.world)

    def pass_on(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        """Send `tensors` to the next rank; returns what the previous rank sent."""
        received = [torch.empty_like(t, memory_format=torch.contiguous_format) for t in tensors]
        ops = [dist.P2POp(dist.isend, t.contiguous(), self.next, self.group) for t in tensors]
        ops += [dist.P2POp(dist.irecv, r, self.prev, self.group) for r in received]
        for request in dist.batch_isend_irecv(ops):
            request.wait()
        return received


def visible(q_index: torch.Tensor, k_index: torch.Tensor, q_doc: torch.Tensor | None,
            k_doc: torch.Tensor | None) -> torch.Tensor:
    """(batch, 1, queries, keys): which keys each query attends to."""
    mask = k_index[:, None, None, :] <= q_index[:, None, :, None]
    if q_doc is not None:
        mask = mask & (k_doc[:, None, None, :] == q_doc[:, None, :, None])
    return mask


def _expand(x: torch.Tensor, groups: int) -> torch.Tensor:
    return x.repeat_interleave(groups, dim=1) if groups > 1 else x


def _fold(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Gradients of expanded KV heads summed back onto their head."""
    if groups == 1:
        return x
    b, h, t, d = x.shape
    return x.view(b, h // groups, groups, t, d).sum(2)


def _probabilities(q, k, mask, lse, scale):
    scores = (q @ k.transpose(-1, -2)) * scale
    return torch.where(mask, torch.exp(scores - lse[..., None]), 0.0)


def _block(q, k, v, mask, scale):
    """(output, log-sum-exp) of q over one block of keys; rows with no visible key: 0 and -inf."""
    scores = ((q @ k.transpose(-1, -2)) * scale).masked_fill(~mask, -math.inf)
    lse = torch.logsumexp(scores, dim=-1)
    p = torch.where(mask, torch.exp(scores - lse[..., None]), 0.0)
    return p @ v, lse


def _merge(out, lse, block_out, block_lse):
    total = torch.logaddexp(lse, block_lse)
    empty = torch.isinf(total)                      # no visible key in either: stays 0 and -inf
    a = torch.where(empty, 0.0, torch.exp(lse - total))
    b = torch.where(empty, 0.0, torch.exp(block_lse - total))
    return out * a[..., None] + block_out * b[..., None], total


def _accumulator(x: torch.Tensor) -> torch.dtype:
    """Scores and sums in float32 at least (bf16 inputs), float64 for float64 inputs."""
    return torch.promote_types(x.dtype, torch.float32)


def _as_long(doc: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    # the ring sends tensors only: no documents = one document
    return doc if doc is not None else torch.zeros_like(like)


class _RingAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, q_index, k_index, q_doc, k_doc, ring: Ring):
        groups, scale = q.shape[1] // k.shape[1], 1.0 / math.sqrt(q.shape[-1])
        acc = _accumulator(q)
        qf = q.to(acc)
        out = torch.zeros(qf.shape, dtype=acc, device=q.device)
        lse = torch.full(qf.shape[:-1], -math.inf, dtype=acc, device=q.device)
        travelling = [k, v, k_index, k_doc]
        for step in range(ring.world):
            kk, vv, ki, kd = travelling
            mask = visible(q_index, ki, q_doc, kd)
            if bool(mask.any()):
                o, l = _block(qf, _expand(kk.to(acc), groups), _expand(vv.to(acc), groups), mask, scale)
                out, lse = _merge(out, lse, o, l)
            if step < ring.world - 1:
                travelling = ring.pass_on(travelling)
        ctx.save_for_backward(q, k, v, q_index, k_index, q_doc, k_doc, out, lse)
        ctx.ring, ctx.groups, ctx.scale = ring, groups, scale
        return out.to(q.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        q, k, v, q_index, k_index, q_doc, k_doc, out, lse = ctx.saved_tensors
        ring, groups, scale = ctx.ring, ctx.groups, ctx.scale
        acc = _accumulator(q)
        qf, do = q.to(acc), grad_out.to(acc)
        delta = (do * out).sum(-1, keepdim=True)
        dq = torch.zeros_like(qf)
        travelling = [k, v, k_index, k_doc, torch.zeros_like(k, dtype=acc), torch.zeros_like(v, dtype=acc)]
        for step in range(ring.world):
            kk, vv, ki, kd, dk, dv = travelling
            mask = visible(q_index, ki, q_doc, kd)
            if bool(mask.any()):
                ke, ve = _expand(kk.to(acc), groups), _expand(vv.to(acc), groups)
                p = _probabilities(qf, ke, mask, lse, scale)
                ds = p * (do @ ve.transpose(-1, -2) - delta)
                dq += (ds @ ke) * scale
                dk = dk + _fold((ds.transpose(-1, -2) @ qf) * scale, groups)
                dv = dv + _fold(p.transpose(-1, -2) @ do, groups)
            travelling = [kk, vv, ki, kd, dk, dv]
            if step < ring.world - 1:
                travelling = ring.pass_on(travelling)
        # the accumulators hold the gradients of the next rank's keys and values: one more hop home
        dk, dv = ring.pass_on(travelling[4:]) if ring.world > 1 else travelling[4:]
        return dq.to(q.dtype), dk.to(k.dtype), dv.to(v.dtype), None, None, None, None, None


def ring_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, index: torch.Tensor,
                   doc: torch.Tensor | None = None, ring: Ring | None = None) -> torch.Tensor:
    """Attention of this rank's queries over the whole sequence's keys. q: (batch, heads, tokens,
    head_dim), k and v: (batch, kv_heads, tokens, head_dim), this rank's tokens; index: (batch,
    tokens) their places in the full sequence; doc: (batch, tokens) their documents (packed rows),
    or None. Returns (batch, heads, tokens, head_dim)."""
    if q.shape[1] % k.shape[1]:
        raise ValueError(f"{q.shape[1]} query heads do not group over {k.shape[1]} KV heads")
    ring = ring or Ring()
    doc = _as_long(doc, index)
    return _RingAttention.apply(q, k, v, index, index, doc, doc, ring)
