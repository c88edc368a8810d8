"""A mixture whose sources are all empty (a first small crawl misses stage 2's high-quality topics):
an empty version that says which filter emptied which source, or an error saying so; downstream,
a clear error naming the empty mixture, or a skipped stage 2 in the model pipeline."""
import logging

import pyarrow as pa
import pytest

from zhinao.tasks.mix.stage import MIX_STAGE2, MixStage2Params
from zhinao.tasks.mix.stage import only_made
from zhinao.flows.stage import execute_stage
from zhinao.tasks.mix.phases import SCHEMA
from zhinao.tasks.home import open_store


def _web(n: int) -> pa.Table:
    return pa.Table.from_pylist([{"id": f"w{i}", "text": f"page {i} about the match and the election",
                                  "lang": "en", "topic": ["sports", "news_politics"][i % 2]} for i in range(n)])


@pytest.fixture
def web_only():
    """The data pipeline without its LLM stages: stage 2 reads only rebalance, through its where."""
    ref = open_store().import_tables("rebalance", [_web(10), _web(16)[10:]]).ref
    return ref, only_made(MixStage2Params(partitions=2), {"rebalance": ref})


def test_an_empty_mixture_is_committed_with_what_emptied_it(web_only, caplog):
    ref, params = web_only
    with caplog.at_level(logging.WARNING, logger="zhinao.mix"):
        r = execute_stage(MIX_STAGE2, params, inputs={"rebalance": ref})
    store = open_store()
    m = store.resolve(r.ref)
    assert r.rows == 0 and store.open_arrow(r.ref).schema.names == SCHEMA.names
    why = {row["source"]: row["why"] for row in r.stats["tables"]["empty_sources"]}
    assert list(why) == ["web_high_quality"]
    said = why["web_high_quality"]
    assert f"{ref} has 16 documents, 0 match its where" in said and "science_research" in said
    assert "topic=sports (8)" in said and "-p spec=" in said       # what is there, and how to widen it
    assert {row["source"]: row["dataset_docs"] for row in r.stats["tables"]["mixture"]} == {"web_high_quality": 16}
    assert any(said in rec.getMessage() and rec.levelno == logging.WARNING for rec in caplog.records)
    from zhinao.tasks.mix.resolve import empty_mixture
    assert empty_mixture(m) == f"{r.ref} is an empty mixture: {said}"


def test_an_empty_mixture_can_be_an_error(web_only):
    ref, params = web_only
    with pytest.raises(ValueError, match=r"no source has any documents: source 'web_high_quality': "
                                         rf"{ref} has 16 documents, 0 match its where"):
        execute_stage(MIX_STAGE2, params.model_copy(update={"empty": "error"}), inputs={"rebalance": ref})


def test_every_way_a_source_empties_is_named():
    store = open_store()
    inputs = {"rebalance": store.import_tables("rebalance", [_web(6)]).ref,
              "rewrite": store.import_tables("rewrite", [_web(1).slice(0, 0)]).ref,
              "judge": store.import_tables("judge", [pa.table({"id": ["j0"], "kind": ["math"], "prompt": [""],
                                                               "response": [" "]})]).ref}
    r = execute_stage(MIX_STAGE2, MixStage2Params(partitions=2), inputs=inputs)
    why = {row["source"]: row["why"] for row in r.stats["tables"]["empty_sources"]}
    assert r.rows == 0 and set(why) == {"web_high_quality", "rewritten_web", "synthetic_math", "synthetic_code",
                                        "instruction"}
    assert why["rewritten_web"] == f"source 'rewritten_web': {inputs['rewrite']} has no documents; run its stage " \
                                   "on more data"
    assert "1 documents match, but its text template" in why["synthetic_math"]
    assert "has 1 documents, 0 match its where {'kind': 'code'} (they have kind=math (1))" in why["synthetic_code"]


def test_downstream_an_empty_mixture_is_named_or_skipped(web_only, monkeypatch, caplog):
    from zhinao.flows import pipeline, pipelines
    from zhinao.tasks.tokens.stage import TOKENS_STAGE2, TokenizeParams
    from zhinao.tasks.tokenizer.stage import TOKENIZER, TokenizerParams
    from zhinao.tasks.corpus.labelled import labelled_articles

    ref, params = web_only
    mix = execute_stage(MIX_STAGE2, params, inputs={"rebalance": ref}).ref
    stage1 = open_store().import_tables("mix-stage1", [pa.Table.from_pylist(
        [{"id": r["id"], "text": r["text"], "lang": r["lang"]} for r in labelled_articles(1)])]).ref
    tok = execute_stage(TOKENIZER, TokenizerParams(use_ray=False, vocab_size=600, compare_with=[]),
                        inputs={"mix-stage1": stage1}).ref
    with pytest.raises(ValueError, match=rf"{mix} is an empty mixture: source 'web_high_quality': .* 0 match its "
                                         "where .*; nothing to tokenize"):
        execute_stage(TOKENS_STAGE2, TokenizeParams(use_ray=False), inputs={"tokenizer": tok})
    # the model pipeline trains stage 1 and skips stage 2, saying why (its stages stubbed: wiring only)
    ran = []

    def stub(name):
        def run_stage(params, inputs=None):
            ran.append(name)
            return pipeline.StageResult(stage=name, ref=f"{name}@x", version="x", cache_hit=False, rows=1)
        return run_stage

    for name in ("tokenizer", "tokens-stage1", "tokens-stage2", "pretrain-stage1", "pretrain-stage2"):
        monkeypatch.setitem(pipeline.flows(), name, stub(name))
    with caplog.at_level(logging.WARNING):
        results = pipelines.model.fn(pipelines.ModelParams())
    assert ran == ["tokenizer", "tokens-stage1", "pretrain-stage1"] and len(results) == 3
    said = [r.getMessage() for r in caplog.records]
    assert any(f"{mix} is an empty mixture" in m and "skipping tokens-stage2" in m for m in said), said
    assert any("skipping pretrain-stage2: it reads ['tokens-stage2'], which this run skipped" in m for m in said)
