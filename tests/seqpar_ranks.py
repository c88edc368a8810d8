"""Rank bodies for the sequence-parallel tests: each is run on every rank of a gloo group
(tests/test_seqpar.py spawns them) and raises when its part disagrees with the one-rank
reference computed from the same seeded inputs."""
from __future__ import annotations

import os
import sys

import torch
import torch.distributed as dist
import torch.nn.functional as F


def spawned(rank: int, world: int, init: str, body, args) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    body(rank, world, *args)
    dist.barrier()                   # neither rank tears the group down while the other still talks
    dist.destroy_process_group()
    # past this point only C++ static destructors run; after gloo's all-to-all (Ulysses) one of them
    # aborts now and then ("terminate called without an active exception") once all checks passed
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def full_attention(q, k, v, doc=None):
    """The reference: causal (and document-masked) attention over the whole sequence."""
    t = q.shape[2]
    mask = torch.ones(t, t, dtype=torch.bool).tril()[None, None]
    if doc is not None:
        mask = mask & (doc[:, None, :, None] == doc[:, None, None, :])
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=q.shape[1] != k.shape[1])


def attention_matches_full_attention(rank: int, world: int, backend: str, heads: int, kv_heads: int,
                                     packed: bool) -> None:
    from zhinao.model.seqpar.attention import sequence_parallel_attention
    from zhinao.model.seqpar.split import shard, unshard

    if backend == "ulysses":
        import deepspeed

        deepspeed.init_distributed(dist_backend="gloo")

    torch.manual_seed(0)
    b, t, d = 2, 16 * world, 8
    q, k, v = (torch.randn(b, h, t, d, dtype=torch.float64) for h in (heads, kv_heads, kv_heads))
    weight = torch.randn(b, heads, t, d, dtype=torch.float64)           # a loss that reaches every output
    doc = torch.tensor([[0] * 5 + [1] * (t - 12) + [2] * 7, [0] * t]) if packed else None
    ref_q, ref_k, ref_v = (x.clone().requires_grad_() for x in (q, k, v))
    ref = full_attention(ref_q, ref_k, ref_v, doc)
    (ref * weight).sum().backward()

    part = [shard(x, world, rank, dim=2).clone().requires_grad_() for x in (q, k, v)]
    index = shard(torch.arange(t).expand(b, t), world, rank, dim=1)
    out = sequence_parallel_attention(backend, *part, index, shard(doc, world, rank, dim=1) if packed else None)
    (out * shard(weight, world, rank, dim=2)).sum().backward()

    torch.testing.assert_close(out, shard(ref, world, rank, dim=2), rtol=1e-9, atol=1e-9)
    for mine, full in zip(part, (ref_q, ref_k, ref_v)):
        torch.testing.assert_close(mine.grad, shard(full.grad, world, rank, dim=2), rtol=1e-9, atol=1e-9)
    # the parts put back together are the whole
    gathered = [torch.empty_like(out) for _ in range(world)]
    dist.all_gather(gathered, out.detach().contiguous())
    torch.testing.assert_close(unshard(gathered, dim=2), ref.detach(), rtol=1e-9, atol=1e-9)


def token_mean_matches_one_rank(rank: int, world: int) -> None:
    """Rank 1 holds no valid target: its share is 0 (not NaN), and the averaged gradients are the
    one-rank gradients of the mean over all valid tokens."""
    from zhinao.model.seqpar.loss import IGNORE, chunked_loss, token_mean

    torch.manual_seed(0)
    n, dim, vocab = 24, 8, 50
    hidden, weight = torch.randn(n, dim, dtype=torch.float64), torch.randn(vocab, dim, dtype=torch.float64)
    targets = torch.randint(0, vocab, (n,))
    targets[n // 2:] = IGNORE                                   # the second half (rank 1's) has none
    ref_w = weight.clone().requires_grad_()
    F.cross_entropy(hidden @ ref_w.t(), targets, ignore_index=IGNORE).backward()

    w = weight.clone().requires_grad_()
    mine = slice(rank * n // world, (rank + 1) * n // world)
    share = token_mean(*chunked_loss(hidden[mine], w, targets[mine], chunk=5))
    assert torch.isfinite(share) and (rank == 0 or share.item() == 0.0)
    share.backward()
    grad = w.grad.clone()
    dist.all_reduce(grad)
    torch.testing.assert_close(grad / world, ref_w.grad, rtol=1e-9, atol=1e-12)
    total = share.detach().clone()
    dist.all_reduce(total)
    ref = F.cross_entropy(hidden @ weight.t(), targets, ignore_index=IGNORE)
    torch.testing.assert_close(total / world, ref, rtol=1e-9, atol=1e-12)


def ulysses_refuses_one_kv_head(rank: int, world: int) -> None:
    import pytest

    from zhinao.model.seqpar.attention import sequence_parallel_attention

    q = torch.zeros(1, 4, 8, 2)
    for kv_heads in (1, 3):
        with pytest.raises(ValueError, match=rf"split evenly .*\({kv_heads} KV heads, 2 ranks\): use the ring"):
            sequence_parallel_attention("ulysses", q.repeat(1, 3, 1, 1)[:, :6], q.repeat(1, 3, 1, 1)[:, :kv_heads],
                                        q.repeat(1, 3, 1, 1)[:, :kv_heads], torch.arange(8)[None])


def model_loss_matches_one_rank(rank: int, world: int, backend: str) -> None:
    """The tiny model's loss and gradients with its sequences split over the ranks equal one rank's
    on the whole batch: packed rows (positions restart per document, attention stays inside one)."""
    from zhinao.model.config import preset
    from zhinao.model.seqpar.attention import Split
    from zhinao.model.seqpar.split import shard
    from zhinao.model.transformer import Transformer

    if backend == "ulysses":
        import deepspeed

        deepspeed.init_distributed(dist_backend="gloo")
    torch.manual_seed(0)
    model = Transformer(preset("tiny", vocab_size=256, dim=64, n_layers=2, max_seq_len=64))
    b, t = 2, 32
    tokens = torch.randint(0, 256, (b, t))
    targets = torch.roll(tokens, -1, dims=1)
    targets[:, -1] = -100
    targets[1, :10] = -100                               # prompt tokens: no loss
    doc = torch.tensor([[0] * 12 + [1] * 20, [0] * 32])
    positions = torch.stack([torch.cat([torch.arange(12), torch.arange(20)]), torch.arange(32)])
    _, ref_loss = model(tokens, targets, positions, doc)
    ref_grads = torch.autograd.grad(ref_loss, list(model.parameters()))

    part = lambda x: shard(x, world, rank, dim=1)                           # noqa: E731
    split = Split(index=part(torch.arange(t).expand(b, t)), doc=part(doc), backend=backend)
    logits, loss = model(part(tokens), part(targets), part(positions), split=split, loss_chunk=7)
    assert logits is None
    _, same = model(part(tokens), part(targets), part(positions), part(doc),
                    split=Split(index=split.index, backend=backend), loss_chunk=7)
    torch.testing.assert_close(same, loss)                # documents given to forward travel with the split
    grads = torch.autograd.grad(loss, list(model.parameters()))
    total = loss.detach().clone()
    dist.all_reduce(total)
    torch.testing.assert_close(total / world, ref_loss.detach(), rtol=1e-5, atol=1e-6)
    for (name, _), mine, ref in zip(model.named_parameters(), grads, ref_grads):
        mine = mine.clone()
        dist.all_reduce(mine)                            # what data-parallel averaging does
        torch.testing.assert_close(mine / world, ref, rtol=1e-4, atol=1e-6, msg=lambda m: f"{name}: {m}")
