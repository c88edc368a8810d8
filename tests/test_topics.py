"""Topic taxonomy, annotators, the fastText classifier as a model version, classify and rebalance."""
import json
import subprocess
import sys

import pyarrow as pa
import pytest

from zhinao.tasks.topics.annotate_stage import ANNOTATE, AnnotateParams
from zhinao.tasks.topics.classify_stage import CLASSIFY, ClassifyParams
from zhinao.tasks.topics.rebalance_stage import REBALANCE, RebalanceParams
from zhinao.flows.stage import execute_stage
from zhinao.tasks.topics.model_stage import TOPIC_MODEL, TopicModelParams
from zhinao.tasks.corpus.labelled import TAXONOMY_IDS, labelled_articles
from zhinao.tasks.runtime.sampling import threshold
from zhinao.tasks.home import open_store
from zhinao.tasks.topics.llm_label import parse_label
from zhinao.tasks.topics.rebalance import targets
from zhinao.tasks.topics.taxonomy import load_taxonomy, parse_taxonomy


@pytest.fixture
def docs():
    rows = labelled_articles(8)
    return open_store().import_tables("dedup-semantic", [pa.Table.from_pylist(rows[i::2]) for i in range(2)]).ref, rows


def test_the_taxonomy_has_42_bilingual_categories():
    t = load_taxonomy()
    assert len(t) == 42 and len(set(t.ids)) == 42
    assert all(c.zh and c.en and c.description_en and c.description_zh for c in t.categories)
    assert set(TAXONOMY_IDS.values()) <= set(t.ids) and {"adult", "ads_spam"} <= set(t.ids)
    assert t["sports"].name("zh") == "体育" and t["sports"].description("zh").startswith("足球")


@pytest.mark.parametrize("text, message", [
    ("not json", "not valid JSON"), ("[]", "non-empty JSON list"),
    ('[{"id": "a", "en": "A", "zh": "甲", "description_en": "x"}]', "lacks ['description_zh']"),
    ('[{"id": "a", "en": "A", "zh": "甲", "description_en": "x", "description_zh": "y"},'
     ' {"id": "a", "en": "B", "zh": "乙", "description_en": "x", "description_zh": "y"}]', "appears twice"),
    ('[{"id": "Bad Id", "en": "A", "zh": "甲", "description_en": "x", "description_zh": "y"}]', "lowercase"),
])
def test_a_bad_taxonomy_is_refused_with_the_reason(text, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_taxonomy(text, "t.json")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_taxonomy("/no/such/taxonomy.json")


def test_llm_answers_are_parsed_to_a_category_id():
    t = load_taxonomy()
    assert parse_label("sports", t) == "sports"
    assert parse_label("The category is `food_cooking`.", t) == "food_cooking"
    assert parse_label("Finance & economy, maybe news_politics", t) == "finance_economy"   # the first named
    assert parse_label("esports_games", t) is None and parse_label("I cannot tell", t) is None


def test_zero_shot_annotation_matches_the_true_topics(docs):
    ref, rows = docs
    r = execute_stage(ANNOTATE, AnnotateParams(use_ray=False, annotator="embedding"), inputs={"dedup-semantic": ref})
    got = open_store().open_arrow(r.ref).to_pylist()
    assert len(got) == len(rows) == r.rows
    truth = {x["id"]: x["truth"] for x in rows}
    for lang, floor in (("en", 0.85), ("zh", 0.7)):     # MiniLM reads English; Chinese leans on keywords
        mine = [g for g in got if g["lang"] == lang]
        assert sum(g["topic"] == truth[g["id"]] for g in mine) / len(mine) >= floor, lang
    assert all(0 < g["annotation_score"] <= 1 and g["annotator"].startswith("zero-shot") for g in got)
    m = open_store().resolve(r.ref)
    assert {"annotator/embedding", "taxonomy"} <= {s["name"] for s in m.sources}
    # a confidence floor drops the unsure annotations, counted by reason
    strict = execute_stage(ANNOTATE, AnnotateParams(use_ray=False, annotator="embedding", min_confidence=0.9, docs=40),
                           inputs={"dedup-semantic": ref})
    assert strict.rows + strict.stats["dropped"].get("low_confidence", 0) == 40 and strict.rows < 40


def test_llm_annotation_runs_through_the_generator(docs, smollm2):
    ref, _ = docs
    r = execute_stage(ANNOTATE, AnnotateParams(use_ray=False, annotator="llm", docs=3, audit=True),
                      inputs={"dedup-semantic": ref})
    kept, dropped = open_store().open_arrow(r.ref).to_pylist(), open_store().open_arrow(r.audit_ref).to_pylist()
    assert len(kept) + len(dropped) == 3
    ids = set(load_taxonomy().ids)
    assert all(k["topic"] in ids and k["annotator"] == "llm:smollm2-135m-instruct" for k in kept)
    assert all(d["drop_reason"] in ("unparseable", "low_confidence") for d in dropped)
    assert any(s["name"] == "template/topic-label" for s in open_store().resolve(r.ref).sources)


def test_the_classifier_is_a_model_version_with_quality_figures(docs, zhinao_home):
    ref, rows = docs
    store = open_store()
    labels = execute_stage(ANNOTATE, AnnotateParams(use_ray=False, annotator="embedding"), inputs={"dedup-semantic": ref})
    model = execute_stage(TOPIC_MODEL, TopicModelParams(use_ray=False), inputs={"annotate": labels.ref})
    m = store.resolve(model.ref)
    assert m.kind == "model" and m.parents == [labels.ref] and m.rows == 0
    folder = store.model_path(m)
    assert {"model.ftz", "metrics.json", "taxonomy.json", "confusion.png"} <= {p.name for p in folder.iterdir()}
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["held_out"] > 10 and metrics["train"] + metrics["held_out"] == len(rows)
    assert metrics["accuracy"] >= 0.75 and 0 < metrics["macro_f1"] <= 1
    quality = model.stats["tables"]["quality"]
    assert quality[0]["lang"] == "all" and {q["lang"] for q in quality[1:]} == {"en", "zh"}
    assert list((zhinao_home / "reports").glob("topic-model-*-confusion.png"))
    # the same annotations and seed give the same model: a cache hit
    assert execute_stage(TOPIC_MODEL, TopicModelParams(use_ray=False), inputs={"annotate": labels.ref}).cache_hit

    r = execute_stage(CLASSIFY, ClassifyParams(), inputs={"dedup-semantic": ref, "topic-model": model.ref})
    out = store.open_arrow(r.ref).to_pylist()
    assert len(out) == len(rows) and {"topic", "topic_score", "url", "source"} <= set(out[0])
    truth = {x["id"]: x["truth"] for x in rows}
    assert sum(o["topic"] == truth[o["id"]] for o in out) / len(out) >= 0.75
    assert all(0 < o["topic_score"] <= 1 for o in out)
    assert sum(r.stats["histograms"]["topic"].values()) == len(rows)
    assert store.resolve(r.ref).parents == [ref, model.ref]     # documents and the classifier

    with pytest.raises(ValueError, match="not a topic classifier"):
        execute_stage(CLASSIFY, ClassifyParams(use_ray=False), inputs={"dedup-semantic": ref, "topic-model": labels.ref})


def test_fasttext_training_is_reproducible_across_processes(tmp_path):
    code = ("import json,sys; from pathlib import Path; from zhinao.tasks.topics.classifier import train, TrainConfig, predict;"
            "rows=json.load(open(sys.argv[1])); m=train(rows, TrainConfig(quantize=False), Path(sys.argv[2]));"
            "print(json.dumps(predict(m, [r['text'] for r in rows], 2000)))")
    rows = [{"id": r["id"], "text": r["text"], "topic": r["truth"]} for r in labelled_articles(3)]
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    outs = []
    for k in range(2):
        (tmp_path / str(k)).mkdir()
        # the second process runs torch inference first, which used to change what fastText learned
        pre = "import torch; torch.nn.Linear(64, 64)(torch.randn(256, 64));" if k else ""
        outs.append(subprocess.run([sys.executable, "-c", pre + code, str(tmp_path / "rows.json"), str(tmp_path / str(k))],
                                   capture_output=True, text=True, check=True).stdout)
    assert outs[0] == outs[1]


def test_rebalance_targets_cap_at_k_times_the_median_or_follow_shares():
    counts = {"en/a": 100, "en/b": 10, "en/c": 20, "zh/a": 5, "zh/b": 50, "en/(none)": 7}
    t = targets(counts, 2.0, {}, 1)
    assert t == {"en/a": 40, "en/b": 10, "en/c": 20, "en/(none)": 7, "zh/a": 5, "zh/b": 50}  # zh median 27.5 -> 55
    assert targets(counts, 1.0, {}, 30)["en/a"] == 30                         # min_docs floor
    shares = targets(counts, None, {"en": {"a": 0.5, "b": 0.25}}, 1)            # c keeps its natural share
    assert shares["en/b"] == 10 and shares["en/a"] == 20 and shares["en/c"] == 6
    assert targets(counts, None, {}, 1) == counts


def test_hash_thresholds_hit_the_target_weight():
    hist = {str(b): 1 for b in range(0, 4096, 4)}         # 1024 items, one per used bucket
    for target in (0, 1, 100, 1000, 1024, 5000):
        cut = threshold(hist, target)
        assert sum(w for b, w in hist.items() if int(b) < cut * 4096) == min(target, 1024)


def test_rebalance_stage_downsamples_deterministically_and_charts_it(zhinao_home):
    rows = [r | {"topic": r["truth"]} for r in labelled_articles(2, skew={"news": 10, "sports": 4})]
    ref = open_store().import_tables("classify", [pa.Table.from_pylist(rows)]).ref
    r = execute_stage(REBALANCE, RebalanceParams(use_ray=False, audit=True), inputs={"classify": ref})
    table = r.stats["tables"]["distribution"]
    news = next(t for t in table if t["lang"] == "en" and t["topic"] == "news_politics")
    assert news["before"] == 20 and news["target"] == news["after"] == 4        # 2 x median (2)
    assert all(t["after"] == t["target"] for t in table)
    assert r.rows == sum(t["after"] for t in table) and r.stats["dropped"] == {"rebalance_downsampled": len(rows) - r.rows}
    assert list((zhinao_home / "reports").glob("rebalance-*.png"))
    kept = set(open_store().open_arrow(r.ref, columns=["id"])["id"].to_pylist())
    again = execute_stage(REBALANCE, RebalanceParams(use_ray=False, audit=True, seed=0, cap_factor=2.0, min_docs=1),
                          inputs={"classify": ref})
    assert again.cache_hit and set(open_store().open_arrow(again.ref, columns=["id"])["id"].to_pylist()) == kept
    other = execute_stage(REBALANCE, RebalanceParams(use_ray=False, seed=1), inputs={"classify": ref})
    assert set(open_store().open_arrow(other.ref, columns=["id"])["id"].to_pylist()) != kept
    with pytest.raises(ValueError, match="sum to at most 1"):
        RebalanceParams(target_shares={"en": {"sports": 0.8, "games": 0.4}})
    with pytest.raises(ValueError, match="run classify first"):
        execute_stage(REBALANCE, RebalanceParams(use_ray=False), inputs={
            "classify": open_store().import_tables("classify", [pa.table({"id": ["x"], "lang": ["en"]})]).ref})
