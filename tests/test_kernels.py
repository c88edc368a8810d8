"""Each Triton kernel against its PyTorch reference, forward and backward, under TRITON_INTERPRET=1
on CPU (conftest sets it where there is no GPU); on a CUDA machine the same tests run the kernels."""
import os

import pytest
import torch

from zhinao.kernels.cross_entropy import cross_entropy, cross_entropy_ref
from zhinao.kernels.dispatch import use_triton
from zhinao.kernels.rmsnorm import rmsnorm, rmsnorm_ref
from zhinao.kernels.rope import rope, rope_ref
from zhinao.kernels.swiglu import swiglu, swiglu_ref
from zhinao.model.transformer import rope_tables

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@pytest.fixture(autouse=True)
def kernels_on(monkeypatch):
    monkeypatch.setenv("ZHINAO_KERNELS", "triton")


def _grads(fn, *tensors):
    tensors = [t.detach().clone().requires_grad_(t.is_floating_point()) for t in tensors]
    out = fn(*tensors)
    torch.manual_seed(5)
    out.backward(torch.randn_like(out))
    return out.detach(), [t.grad for t in tensors if t.requires_grad]


def _check(kernel, reference, *tensors, atol=1e-5):
    assert use_triton(tensors[0]), "the kernel path must run (TRITON_INTERPRET=1 on CPU)"
    out_k, grads_k = _grads(kernel, *tensors)
    out_r, grads_r = _grads(reference, *tensors)
    assert torch.allclose(out_k, out_r, atol=atol), (out_k - out_r).abs().max()
    for gk, gr in zip(grads_k, grads_r):
        assert torch.allclose(gk, gr, atol=atol), (gk - gr).abs().max()


def test_interpreter_is_on_without_a_gpu(monkeypatch):
    assert torch.cuda.is_available() or os.environ.get("TRITON_INTERPRET") == "1"
    monkeypatch.setenv("ZHINAO_KERNELS", "auto")
    assert use_triton(torch.zeros(1, device=DEVICE)) == torch.cuda.is_available()   # CPU: references


@pytest.mark.parametrize("shape", [(3, 7, 64), (5, 96)])
def test_rmsnorm(shape):
    torch.manual_seed(0)
    x = torch.randn(*shape, device=DEVICE)
    w = torch.rand(shape[-1], device=DEVICE) + 0.5
    _check(lambda a, b: rmsnorm(a, b, 1e-5), lambda a, b: rmsnorm_ref(a, b, 1e-5), x, w)


def test_swiglu():
    torch.manual_seed(1)
    a, b = torch.randn(4, 9, 352, device=DEVICE), torch.randn(4, 9, 352, device=DEVICE)
    _check(swiglu, swiglu_ref, a, b)


def test_rope():
    torch.manual_seed(2)
    x = torch.randn(2, 4, 17, 32, device=DEVICE)
    cos, sin = rope_tables(32, 17, 1e4, DEVICE)
    _check(lambda t: rope(t, cos, sin), lambda t: rope_ref(t, cos, sin), x)


@pytest.mark.parametrize("vocab", [1000, 4096 + 37])
def test_fused_cross_entropy(vocab):
    torch.manual_seed(3)
    logits = torch.randn(24, vocab, device=DEVICE) * 3
    targets = torch.randint(0, vocab, (24,), device=DEVICE)
    targets[[2, 11]] = -100                                  # ignored rows count for nothing
    _check(lambda z: cross_entropy(z, targets), lambda z: cross_entropy_ref(z, targets), logits, atol=1e-5)


def test_the_model_on_kernels_matches_the_model_on_references(monkeypatch):
    from zhinao.model.config import ModelConfig
    from zhinao.model.transformer import Transformer

    torch.manual_seed(4)
    model = Transformer(ModelConfig(vocab_size=512, dim=64, n_layers=2, n_heads=4, n_kv_heads=2, multiple_of=32,
                                    max_seq_len=64)).to(DEVICE)
    x = torch.randint(0, 512, (2, 24), device=DEVICE)
    results = []
    for mode in ("triton", "reference"):
        monkeypatch.setenv("ZHINAO_KERNELS", mode)
        model.zero_grad()
        _, loss = model(x[:, :-1], x[:, 1:])
        loss.backward()
        results.append((loss.item(), [p.grad.clone() for p in model.parameters()]))
    (l1, g1), (l2, g2) = results
    assert abs(l1 - l2) < 1e-5 and all(torch.allclose(a, b, atol=1e-5) for a, b in zip(g1, g2))
