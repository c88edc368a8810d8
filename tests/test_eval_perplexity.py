"""Bits per byte by group: rolling log-likelihood as lm-eval computes it, independent of batch size."""
import math

import pytest

from zhinao.tasks.eval.loglik import LoglikModel
from zhinao.tasks.eval.perplexity import aggregate, score_documents

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
