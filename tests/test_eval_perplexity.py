"""Bits per byte by group: rolling log-likelihood as lm-eval computes it, independent of batch size."""
import math

import pytest

from zhinao.tasks.eval.loglik import LoglikModel
from zhinao.tasks.eval.perplexity import aggregate, by_position, context_lengths, position_bucket, score_documents

TEXTS = [
    {"text": "The river rose after three days of rain, and the bridge was closed to traffic.", "lang": "en", "source": "a"},
    {"text": "长江流经十一个省级行政区，最后在上海注入东海。沿岸城市众多，航运十分繁忙。", "lang": "zh", "source": "b"},
    {"text": "Prices at the market fell in the spring. " * 12, "lang": "en", "source": "b"},
    {"text": "   ", "lang": "en", "source": "a"},
]


def test_aggregate_is_total_nll_over_total_bytes():
    docs = [{"lang": "en", "tokens": 10, "bytes": 40, "nll": 20.0}, {"lang": "zh", "tokens": 5, "bytes": 30, "nll": 15.0}]
    rows = {(r["by"], r["value"]): r for r in aggregate(docs, by=("lang",))}
    assert rows[("all", "all")]["bits_per_byte"] == pytest.approx(35 / (70 * math.log(2)))
    assert rows[("lang", "zh")]["bits_per_byte"] == pytest.approx(15 / (30 * math.log(2)))
    assert rows[("lang", "en")]["token_perplexity"] == pytest.approx(math.exp(2.0))


def test_each_token_is_bucketed_by_the_context_it_was_predicted_from():
    # the first window from the start; a later full window from the one token before it; a short last
    # window from the text before it that fills the window
    assert context_lengths(10, 4) == [0, 1, 2, 3, 1, 2, 3, 4, 3, 4]
    assert context_lengths(3, 8) == [0, 1, 2]
    assert [position_bucket(n) for n in (0, 63, 64, 127, 128, 300, 4095, 4096)] == [0, 0, 64, 64, 128, 256, 2048, 4096]
    rows = by_position([{"by_position": {0: [2, 4.0], 64: [1, 1.0]}}, {"by_position": {0: [2, 2.0]}}])
    assert rows == [{"positions": "0-63", "tokens": 4, "nll_per_token": 1.5, "token_perplexity": pytest.approx(math.exp(1.5))},
                    {"positions": "64-127", "tokens": 1, "nll_per_token": 1.0, "token_perplexity": pytest.approx(math.e)}]


@pytest.fixture(scope="module")
def scorer(smollm2):
    return LoglikModel(smollm2, max_length=32)        # short windows: documents span several


def test_windows_batch_size_and_the_reference_harness_agree(scorer, smollm2):
    one = score_documents(TEXTS, scorer, batch_size=1)
    many = score_documents(TEXTS, scorer, batch_size=4)
    assert len(one) == 3                                           # the blank document is skipped
    assert [d["nll"] for d in one] == pytest.approx([d["nll"] for d in many], abs=1e-4)
    assert one[2]["tokens"] > 32                                   # several windows
    lm_eval = pytest.importorskip("lm_eval", reason="lm-eval is installed by the dev extra")
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    ref = HFLM(pretrained=str(smollm2), dtype="float32", max_length=32, batch_size=2, device="cpu")
    theirs = ref.loglikelihood_rolling([Instance("loglikelihood_rolling", {}, (t["text"],), i)
                                        for i, t in enumerate(TEXTS[:3])], disable_tqdm=True)
    assert [-d["nll"] for d in one] == pytest.approx(theirs, abs=2e-3)
    rows = {(r["by"], r["value"]): r for r in aggregate(one, by=("lang", "source"))}
    assert rows[("lang", "zh")]["documents"] == 1 and rows[("source", "b")]["documents"] == 2
    assert 0 < rows[("all", "all")]["bits_per_byte"] < 8
    # every token in one position bucket, and their losses add up to the document's
    positions = by_position(one)
    assert sum(r["tokens"] for r in positions) == sum(d["tokens"] for d in one)
    assert sum(r["tokens"] * r["nll_per_token"] for r in positions) == pytest.approx(sum(d["nll"] for d in one))


def test_packed_windows_score_as_padded_batches(scorer):
    """Windows packed into one row (positions restarting per window, attention kept within it)
    give each token the log-prob that a padded batch gives it; the model's own attention is back
    for every other forward."""
    ids = [scorer.encode(t["text"]) for t in TEXTS[:3]]
    assert scorer.packs
    packed = scorer.rolling_logprobs(ids, batch_size=8)
    assert scorer.model.config._attn_implementation == "sdpa"
    scorer.packs = False
    try:
        padded = scorer.rolling_logprobs(ids, batch_size=3)
    finally:
        scorer.packs = True
    for a, b in zip(packed, padded):
        assert a == pytest.approx(b, abs=1e-4)
