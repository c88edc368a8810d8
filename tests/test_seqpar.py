"""Sequence parallelism on 2 gloo ranks (CPU): ring attention equals full attention, forward and
backward, with grouped KV heads (one KV head for 4 query heads too) and packed documents."""
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


@pytest.mark.parametrize("heads,kv_heads,packed", [(4, 2, False), (4, 1, False), (4, 1, True)],
                         ids=["gqa", "one-kv-head", "packed"])
def test_ring_attention_equals_full_attention(tmp_path, heads, kv_heads, packed):
    run_ranks(tmp_path, seqpar_ranks.ring_matches_full_attention, heads, kv_heads, packed)
