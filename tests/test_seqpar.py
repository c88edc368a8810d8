"""Sequence parallelism on 2 gloo ranks (CPU): ring attention and DeepSpeed's Ulysses equal full
attention, forward and backward, with grouped KV heads (one KV head for 4 query heads: ring only)
and packed documents; the loss is the mean over every rank's tokens, computed in chunks."""
from __future__ import annotations

import pytest
import torch

from tests import seqpar_ranks
from zhinao.model.seqpar.split import shard, unshard, zigzag_index


def run_ranks(tmp_path, body, *args, world: int = 2) -> None:
    torch.multiprocessing.spawn(seqpar_ranks.spawned, args=(world, f"file://{tmp_path}/rendezvous", body, args),
                                nprocs=world, join=True)


def test_zigzag_balances_the_causal_work_and_unshards():
    assert zigzag_index(8, 2, 0).tolist() == [0, 1, 6, 7] and zigzag_index(8, 2, 1).tolist() == [2, 3, 4, 5]
    x = torch.arange(24).view(1, 24)
    assert torch.equal(unshard([shard(x, 3, r) for r in range(3)]), x)
    # keys each rank's queries see under a causal mask: equal
    work = [sum(int(i) + 1 for i in zigzag_index(24, 3, r)) for r in range(3)]
    assert len(set(work)) == 1
    with pytest.raises(ValueError, match="pad it to a multiple of 4"):
        zigzag_index(10, 2, 0)


@pytest.mark.parametrize("backend,heads,kv_heads,packed", [
    ("ring", 4, 2, False), ("ring", 4, 1, False), ("ring", 4, 1, True), ("ulysses", 4, 2, False),
    ("ulysses", 4, 2, True)], ids=["ring-gqa", "ring-one-kv-head", "ring-packed", "ulysses-gqa", "ulysses-packed"])
def test_sequence_parallel_attention_equals_full_attention(tmp_path, backend, heads, kv_heads, packed):
    run_ranks(tmp_path, seqpar_ranks.attention_matches_full_attention, backend, heads, kv_heads, packed)


def test_a_batch_without_positions_or_with_too_few_kv_heads_is_refused(tmp_path):
    from zhinao.model.seqpar.attention import sequence_parallel_attention

    q = torch.zeros(1, 4, 8, 2)
    with pytest.raises(ValueError, match="needs each token's index in the full sequence"):
        sequence_parallel_attention("ring", q, q[:, :1], q[:, :1], None)
    run_ranks(tmp_path, seqpar_ranks.ulysses_refuses_one_kv_head)


def test_the_loss_is_the_mean_over_every_ranks_tokens_even_with_none_on_one(tmp_path):
    run_ranks(tmp_path, seqpar_ranks.token_mean_matches_one_rank)


class _Largest(torch.utils._python_dispatch.TorchDispatchMode):
    """The largest tensor any operation makes while active (forward and backward)."""

    def __init__(self):
        super().__init__()
        self.numel = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                self.numel = max(self.numel, t.numel())
        return out


def test_the_chunked_loss_equals_the_full_one_without_its_logits():
    from zhinao.model.seqpar.loss import IGNORE, chunked_loss

    torch.manual_seed(0)
    n, dim, vocab, chunk = 512, 16, 1000, 64
    hidden = torch.randn(n, dim, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(vocab, dim, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(0, vocab, (n,))
    targets[::7] = IGNORE
    full = torch.nn.functional.cross_entropy(hidden @ weight.t(), targets, ignore_index=IGNORE, reduction="sum")
    want = torch.autograd.grad(full, (hidden, weight))
    with _Largest() as seen:
        total, count = chunked_loss(hidden, weight, targets, chunk=chunk)
        got = torch.autograd.grad(total, (hidden, weight))
    assert count.item() == int((targets != IGNORE).sum())
    torch.testing.assert_close(total.double(), full, rtol=1e-6, atol=1e-6)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-9, atol=1e-9)
    # no tensor as large as the tokens x vocabulary logits: at most a chunk's (or the weight's gradient)
    assert seen.numel <= max(chunk * vocab, vocab * dim) < n * vocab


@pytest.mark.parametrize("backend", ["ring", "ulysses"])
def test_the_models_loss_and_gradients_with_sequence_parallelism_equal_one_ranks(tmp_path, backend):
    run_ranks(tmp_path, seqpar_ranks.model_loss_matches_one_rank, backend)


def test_a_split_batch_without_position_ids_is_refused():
    from zhinao.model.config import preset
    from zhinao.model.seqpar.attention import Split
    from zhinao.model.transformer import Transformer

    model = Transformer(preset("tiny", vocab_size=64, dim=32, n_layers=1, max_seq_len=16))
    tokens = torch.zeros(1, 8, dtype=torch.long)
    with pytest.raises(ValueError, match="needs its position ids"):
        model(tokens, tokens, split=Split(index=torch.arange(8)[None]))
