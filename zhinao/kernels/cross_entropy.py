"""Fused cross-entropy over a large vocabulary: one program per row streams the logits in blocks
(online max and sum for log-sum-exp), so no (rows, vocab) softmax is materialised; the backward
writes softmax - onehot, scaled by the incoming gradient, block by block. ignore_index rows give 0."""
from __future__ import annotations

import torch
import torch.nn.functional as F
import triton
import triton.language as tl

from .dispatch import use_triton

BLOCK = 1024


def cross_entropy_ref(logits: torch.Tensor, targets: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    return F.cross_entropy(logits.float(), targets, ignore_index=ignore_index)


@triton.jit
def _fwd(logits_ptr, targets_ptr, loss_ptr, lse_ptr, vocab, ignore_index, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    target = tl.load(targets_ptr + row)
    base = logits_ptr + row.to(tl.int64) * vocab
    m = -float("inf")
    s = 0.0
    for start in range(0, vocab, BLOCK):
        cols = start + tl.arange(0, BLOCK)
        x = tl.load(base + cols, mask=cols < vocab, other=-float("inf")).to(tl.float32)
        m_new = tl.maximum(m, tl.max(x, axis=0))
        s = s * tl.exp(m - m_new) + tl.sum(tl.exp(x - m_new), axis=0)
        m = m_new
    lse = m + tl.log(s)
    tl.store(lse_ptr + row, lse)
    if target == ignore_index:
        tl.store(loss_ptr + row, 0.0)
    else:
        tl.store(loss_ptr + row, lse - tl.load(base + target).to(tl.float32))


@triton.jit
def _bwd(logits_ptr, targets_ptr, lse_ptr, grad_ptr, dlogits_ptr, vocab, ignore_index, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    target = tl.load(targets_ptr + row)
    scale = tl.load(grad_ptr + row)
    lse = tl.load(lse_ptr + row)
    if target == ignore_index:
        scale = 0.0
    base = row.to(tl.int64) * vocab
    for start in range(0, vocab, BLOCK):
        cols = start + tl.arange(0, BLOCK)
        mask = cols < vocab
        x = tl.load(logits_ptr + base + cols, mask=mask, other=0.0).to(tl.float32)
        g = tl.exp(x - lse) - tl.where(cols == target, 1.0, 0.0)
        tl.store(dlogits_ptr + base + cols, (g * scale).to(dlogits_ptr.dtype.element_ty), mask=mask)


class CrossEntropyFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, targets, ignore_index):
        logits, targets = logits.contiguous(), targets.contiguous()
        rows, vocab = logits.shape
        loss = torch.empty(rows, dtype=torch.float32, device=logits.device)
        lse = torch.empty(rows, dtype=torch.float32, device=logits.device)
        _fwd[(rows,)](logits, targets, loss, lse, vocab, ignore_index, BLOCK=BLOCK)
        count = (targets != ignore_index).sum().clamp(min=1)
        ctx.save_for_backward(logits, targets, lse, count)
        ctx.ignore_index = ignore_index
        return loss.sum() / count

    @staticmethod
    def backward(ctx, grad):
        logits, targets, lse, count = ctx.saved_tensors
        rows, vocab = logits.shape
        per_row = (grad / count).float().expand(rows).contiguous()
        dlogits = torch.empty_like(logits)
        _bwd[(rows,)](logits, targets, lse, per_row, dlogits, vocab, ctx.ignore_index, BLOCK=BLOCK)
        return dlogits, None, None


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """Mean next-token loss over the rows whose target is not ignore_index; logits (rows, vocab)."""
    if use_triton(logits):
        return CrossEntropyFn.apply(logits, targets, ignore_index)
    return cross_entropy_ref(logits, targets, ignore_index)
