"""RoPE in the rotate-half layout: for each (batch, head, position) row of head_dim values,
out[:h] = x[:h] cos - x[h:] sin, out[h:] = x[h:] cos + x[:h] sin (h = head_dim / 2). The backward
is the inverse rotation, the same kernel with sin negated. The tables are shared by every sequence
(seq, head_dim), or one per sequence (batch, seq, head_dim) when positions restart inside a packed
row (document-masked SFT packing)."""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from .dispatch import use_triton


def rope_ref(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x: (batch, heads, seq, head_dim); cos, sin: (seq, head_dim) or (batch, seq, head_dim), each
    frequency twice."""
    if cos.dim() == 3:
        cos, sin = cos[:, None], sin[:, None]
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return (x.float() * cos + rotated.float() * sin).to(x.dtype)


@triton.jit
def _rotate(x_ptr, cos_ptr, sin_ptr, y_ptr, seq_len, rows_per_seq, table_stride, half, sign, BLOCK: tl.constexpr):
    row = tl.program_id(0)                 # (batch * heads * seq) rows of 2 * half values
    # the table row: this position's, in the sequence's own table (table_stride 0: one shared table)
    table = (row // rows_per_seq) * table_stride + (row % seq_len) * 2 * half
    cols = tl.arange(0, BLOCK)
    mask = cols < half
    base = row * 2 * half
    x1 = tl.load(x_ptr + base + cols, mask=mask, other=0.0).to(tl.float32)
    x2 = tl.load(x_ptr + base + half + cols, mask=mask, other=0.0).to(tl.float32)
    c = tl.load(cos_ptr + table + cols, mask=mask, other=0.0)
    s = tl.load(sin_ptr + table + cols, mask=mask, other=0.0) * sign
    tl.store(y_ptr + base + cols, (x1 * c - x2 * s).to(y_ptr.dtype.element_ty), mask=mask)
    tl.store(y_ptr + base + half + cols, (x2 * c + x1 * s).to(y_ptr.dtype.element_ty), mask=mask)


def _launch(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, sign: float) -> torch.Tensor:
    x = x.contiguous()
    y = torch.empty_like(x)
    heads, seq, dim = x.shape[-3], x.shape[-2], x.shape[-1]
    rows = x.numel() // dim
    stride = seq * dim if cos.dim() == 3 else 0
    _rotate[(rows,)](x, cos.float().contiguous(), sin.float().contiguous(), y, seq, heads * seq, stride, dim // 2,
                     sign, BLOCK=triton.next_power_of_2(dim // 2))
    return y


class RoPEFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, cos, sin):
        ctx.save_for_backward(cos, sin)
        return _launch(x, cos, sin, 1.0)

    @staticmethod
    def backward(ctx, dy):
        cos, sin = ctx.saved_tensors
        return _launch(dy, cos, sin, -1.0), None, None


def rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    return RoPEFn.apply(x, cos, sin) if use_triton(x) else rope_ref(x, cos, sin)
