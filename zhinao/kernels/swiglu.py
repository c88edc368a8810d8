"""SwiGLU's gate: h = silu(a) * b, elementwise over blocks; backward:
da = dh * b * s * (1 + a * (1 - s)) with s = sigmoid(a), db = dh * silu(a)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
import triton
import triton.language as tl

from .dispatch import use_triton

BLOCK = 1024


def swiglu_ref(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return F.silu(a) * b


@triton.jit
def _fwd(a_ptr, b_ptr, h_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    a = tl.load(a_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    b = tl.load(b_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    h = a * tl.sigmoid(a) * b
    tl.store(h_ptr + offs, h.to(h_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _bwd(dh_ptr, a_ptr, b_ptr, da_ptr, db_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    dh = tl.load(dh_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    a = tl.load(a_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    b = tl.load(b_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    s = tl.sigmoid(a)
    tl.store(da_ptr + offs, (dh * b * s * (1 + a * (1 - s))).to(da_ptr.dtype.element_ty), mask=mask)
    tl.store(db_ptr + offs, (dh * a * s).to(db_ptr.dtype.element_ty), mask=mask)


class SwiGLUFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b):
        a, b = a.contiguous(), b.contiguous()
        h = torch.empty_like(a)
        n = a.numel()
        _fwd[(triton.cdiv(n, BLOCK),)](a, b, h, n, BLOCK=BLOCK)
        ctx.save_for_backward(a, b)
        return h

    @staticmethod
    def backward(ctx, dh):
        a, b = ctx.saved_tensors
        da, db = torch.empty_like(a), torch.empty_like(b)
        n = a.numel()
        _bwd[(triton.cdiv(n, BLOCK),)](dh.contiguous(), a, b, da, db, n, BLOCK=BLOCK)
        return da, db


def swiglu(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return SwiGLUFn.apply(a, b) if use_triton(a) else swiglu_ref(a, b)
