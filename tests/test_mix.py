"""The pretraining mixture: token shares resolved under epoch caps, shuffled shards, the manifest of
achieved vs requested shares, bad specs refused."""
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from zhinao.tasks.mix.stage import MIX_STAGE1, MIX_STAGE2, MixParams, MixStage2Params
from zhinao.flows.stage import execute_stage
from zhinao.tasks.mix.resolve import resolve
from zhinao.tasks.mix.spec import STAGE1, STAGE2, MixSource, MixSpec
from zhinao.tasks.mix.tokens import approx_tokens, count_tokens
from zhinao.tasks.semantic.encoder import resolve_model
from zhinao.tasks.home import open_store

WORDS = "the river data model city market school energy garden music station bridge".split()


def _web(n: int) -> pa.Table:
    rows = []
    for i in range(n):
        zh = i % 3 == 0
        text = "数据" * (20 + i % 30) if zh else " ".join(WORDS[(i + k) % len(WORDS)] for k in range(30 + i % 50))
        rows.append({"id": f"w{i}", "text": text, "lang": "zh" if zh else "en",
                     "topic": "science_research" if i % 4 == 0 else "sports"})
    return pa.Table.from_pylist(rows)


def _items(n: int) -> pa.Table:
    kinds = ["math", "code", "instruction"]
    return pa.Table.from_pylist([{"id": f"i{i}", "kind": kinds[i % 3], "prompt": f"Question {i}: add {i} and 2.",
                                  "response": "The sum is " + " ".join(["two"] * (5 + i % 7)) + ".", "lang": "en"}
                                 for i in range(n)])


@pytest.fixture
def sources():
    store = open_store()
    return {"rebalance": store.import_tables("rebalance", [_web(600)[:300], _web(600)[300:]]).ref,
            "rewrite": store.import_tables("rewrite", [_web(200).set_column(0, "id", pa.array(
                [f"r{i}" for i in range(200)]))]).ref,
            "judge": store.import_tables("judge", [_items(300)]).ref}


def test_token_estimates_and_a_real_tokenizer():
    assert approx_tokens("") == 0 and approx_tokens("数据模型") == 4
    assert approx_tokens("hello world, 42") == 2 + 2 + 1 + 2       # words by 4 chars, punctuation, digits
    tok = str(resolve_model("all-MiniLM-L6-v2"))                   # a folder holding tokenizer.json
    assert count_tokens(["hello world"], tok) == [2]


def test_resolve_finds_the_largest_mixture_within_epoch_caps():
    spec = MixSpec(name="t", sources=[MixSource(name="a", dataset="x", share=0.5, max_epochs=1),
                                      MixSource(name="b", dataset="y", share=0.5, max_epochs=3)])
    alloc = resolve(spec, {"a": 1000, "b": 100})
    assert alloc["b"].epochs == pytest.approx(3) and alloc["a"].target == pytest.approx(300)   # b binds
    capped = resolve(spec, {"a": 1000, "b": 100}, total_tokens=2000)
    assert capped["a"].target == 1000 and capped["b"].target == 300          # b cannot reach its half
    left = resolve(spec, {"a": 1000, "b": 0})
    assert left["a"].share == 1 and left["a"].target == 1000 and left["b"].target == 0
    with pytest.raises(ValueError, match=r"source\(s\) \['b'\] have no documents"):
        resolve(spec, {"a": 1000, "b": 0}, missing="error")


def test_bad_specs_are_refused():
    with pytest.raises(ValueError, match="shares sum to 0.900000"):
        MixSpec(name="x", sources=[MixSource(name="a", dataset="d", share=0.9)])
    with pytest.raises(ValueError, match="names repeat"):
        MixSpec(name="x", sources=[MixSource(name="a", dataset="d", share=0.5)] * 2)
    assert abs(sum(s.share for s in STAGE1.sources) - 1) < 1e-9 and abs(sum(s.share for s in STAGE2.sources) - 1) < 1e-9
    web1 = next(s for s in STAGE1.sources if s.dataset == "rebalance")
    web2 = next(s for s in STAGE2.sources if s.dataset == "rebalance")
    assert web2.share < web1.share                                 # annealing: less web, more of the rest


def test_stage1_mix_matches_its_spec_in_shuffled_shards(sources, zhinao_home):
    store = open_store()
    params = MixParams(shard_tokens=3000, partitions=4)
    r = execute_stage(MIX_STAGE1, params, inputs=sources)
    table = {row["source"]: row for row in r.stats["tables"]["mixture"]}
    for s in STAGE1.sources:
        assert abs(table[s.name]["achieved_share"] - s.share) <= 0.01, s.name    # the stated tolerance
        assert table[s.name]["epochs"] <= s.max_epochs + 1e-9
    assert any(abs(t["epochs"] - t["max_epochs"]) < 0.02 for t in table.values())   # a capped source binds
    m = store.resolve(r.ref)
    assert sorted(m.parents) == sorted(sources.values())
    rows = store.open_arrow(r.ref).to_pylist()
    assert sum(x["tokens"] for x in rows) == sum(t["tokens"] for t in table.values())
    assert {x["mix_source"] for x in rows} == {s.name for s in STAGE1.sources}
    math = [x for x in rows if x["mix_source"] == "synthetic_math"]
    assert all(x["text"].startswith("Question") and "The sum is" in x["text"] for x in math)
    assert max(x["epoch"] for x in math) >= 1                       # upsampled: repeated documents
    assert {x["topic"] for x in rows if x["mix_source"] == "web"} == {"science_research", "sports"}
    # shards of about shard_tokens tokens; sources interleaved within a shard (shuffled)
    shards = store.shard_paths(m)
    assert len(shards) > 4
    one = pq.read_table(shards[0], filesystem=store.root.fs).to_pylist()
    assert len({x["mix_source"] for x in one}) >= 3 and sum(x["tokens"] for x in one) < 3000 + 200
    assert list((zhinao_home / "reports").glob("mix-stage1-*.png"))
    again = execute_stage(MIX_STAGE1, params, inputs=sources)
    assert again.cache_hit and again.version == r.version


def test_stage2_mix_filters_web_to_high_quality_topics(sources):
    r = execute_stage(MIX_STAGE2, MixStage2Params(shard_tokens=3000, partitions=2), inputs=sources)
    rows = open_store().open_arrow(r.ref).to_pylist()
    assert {x["topic"] for x in rows if x["mix_source"] == "web_high_quality"} == {"science_research"}
    table = {row["source"]: row for row in r.stats["tables"]["mixture"]}
    assert all(abs(table[s.name]["achieved_share"] - s.share) <= 0.01 for s in STAGE2.sources)


def test_a_missing_source_is_renormalised_or_an_error(sources):
    store = open_store()
    only_web = dict(sources, judge=store.import_tables("judge", [_items(60).filter(
        pa.compute.equal(_items(60)["kind"], "math"))]).ref)
    r = execute_stage(MIX_STAGE1, MixParams(partitions=2), inputs=only_web)
    table = {row["source"]: row for row in r.stats["tables"]["mixture"]}
    assert table["synthetic_code"]["tokens"] == 0 and table["instruction"]["tokens"] == 0
    assert table["web"]["share"] == pytest.approx(0.70 / 0.87, abs=1e-4)
    with pytest.raises(ValueError, match="have no documents"):
        execute_stage(MIX_STAGE1, MixParams(partitions=2, missing="error"), inputs=only_web)
    bad = MixParams(spec=MixSpec(name="b", sources=[MixSource(name="w", dataset="rebalance", share=1.0,
                                                              text="{title}\n{text}")]))
    with pytest.raises(ValueError, match=r"has no column\(s\) \['title'\]"):
        execute_stage(MIX_STAGE1, bad, inputs={"rebalance": sources["rebalance"]})
    with pytest.raises(FileNotFoundError, match="no tokenizer.json"):
        execute_stage(MIX_STAGE1, MixParams(tokenizer="/no/such/folder"), inputs=sources)
