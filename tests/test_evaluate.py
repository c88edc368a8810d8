"""The evaluate stage: a model version over every task, an eval version with per-item rows, scores
per task, plots and lineage to the model; cached like every stage."""
import json

import pytest

from zhinao.tasks.eval.stage import EVALUATE, EvalParams
from zhinao.flows.stage import execute_stage
from zhinao.tasks.home import open_store

SMALL = dict(use_ray=False, limit=1, mc_items=1, gsm8k_items=1, gsm8k_shots=1, perplexity_per_topic=1,
             niah_lengths=[300], niah_depths=2, niah_langs=["zh"], niah_variants=["value"], max_tokens=32)


@pytest.fixture(scope="module")
def evaluated(smollm2, tmp_path_factory):
    import os

    home = tmp_path_factory.mktemp("eval-home")
    old = os.environ.get("ZHINAO_HOME")
    os.environ["ZHINAO_HOME"] = str(home)
    try:
        store = open_store()
        model = store.import_model("smollm2", smollm2, stage="import")
        ifeval = home / "zh_input_data.jsonl"
        ifeval.write_text(json.dumps({"key": 1, "prompt": "用中文介绍长城，不要使用任何逗号。",
                                      "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]},
                                     ensure_ascii=False) + "\n")
        result = execute_stage(EVALUATE, EvalParams(model="smollm2", ifeval_path=str(ifeval), **SMALL), store=store)
        yield store, model, result, ifeval
    finally:
        if old is None:
            os.environ.pop("ZHINAO_HOME", None)
        else:
            os.environ["ZHINAO_HOME"] = old


def test_an_eval_version_has_every_task_its_scores_and_lineage(evaluated):
    store, model, result, ifeval = evaluated
    m = store.resolve(result.ref)
    assert m.kind == "eval" and model.ref in m.parents
    assert any(s.get("uri") == str(ifeval) for s in m.sources)          # the benchmark file is a source
    rows = store.open_arrow(m).to_pylist()
    assert {r["task"] for r in rows} == {"perplexity", "mc", "gsm8k", "ifeval", "niah"}
    assert len([r for r in rows if r["task"] == "mc"]) == 3               # one per default subject
    ife = next(r for r in rows if r["task"] == "ifeval")
    assert ife["correct"] == ("," not in json.loads(ife["detail"])["response"] and
                              "，" not in json.loads(ife["detail"])["response"] and
                              "、" not in json.loads(ife["detail"])["response"])
    scores = {s["task"]: s for s in m.stats["tables"]["scores"]}
    assert set(scores) == {"perplexity", "mc", "gsm8k", "ifeval", "niah"}
    mc = [r for r in rows if r["task"] == "mc"]
    assert scores["mc"]["value"] == pytest.approx(sum(r["correct"] for r in mc) / len(mc))
    ppl = [r for r in rows if r["task"] == "perplexity"]
    details = [json.loads(r["detail"]) for r in ppl]
    assert scores["perplexity"]["value"] == pytest.approx(
        sum(d["nll"] for d in details) / (sum(d["bytes"] for d in details) * 0.6931471805599453))
    plots = m.stats["tables"]["plots"]
    assert plots and all(__import__("pathlib").Path(p["path"]).is_file() for p in plots)


def test_the_same_evaluation_again_is_a_cache_hit(evaluated):
    store, _, result, ifeval = evaluated
    again = execute_stage(EVALUATE, EvalParams(model="smollm2", ifeval_path=str(ifeval),
                                               **(SMALL | {"loglik_batch_size": 3})), store=store)
    assert again.cache_hit and again.ref == result.ref


def test_a_missing_benchmark_file_is_named(evaluated):
    store, *_ = evaluated
    with pytest.raises(FileNotFoundError, match="eval file"):
        execute_stage(EVALUATE, EvalParams(model="smollm2", gsm8k_path="/nonexistent/test.jsonl", **SMALL), store=store)
    with pytest.raises(ValueError, match=r"unknown eval task\(s\) \['\[niah\]'\]"):    # a JSON list passed as one name
        EvalParams(tasks=["[niah]"])


def test_compare_lines_up_two_models(evaluated, smollm2, tmp_path, monkeypatch, capsys):
    """Two model versions (the same weights imported under two names) compared by `zhinao compare`."""
    from zhinao.app.cli import main
    from zhinao.tasks.eval.compare import table

    store, model, result, ifeval = evaluated
    monkeypatch.setenv("ZHINAO_HOME", str(store.catalog.path.parent))
    other = store.import_model("smollm2-copy", smollm2, stage="import")
    execute_stage(EVALUATE, EvalParams(model="smollm2-copy", ifeval_path=str(ifeval), **SMALL), store=store)
    assert main(["compare", model.ref, "smollm2-copy", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["models"]) == 2 and other.ref in out["models"][1]
    head = {r["task"]: r for r in out["rows"]}
    assert {"perplexity", "mc", "gsm8k", "ifeval", "niah"} <= set(head)
    a, b = out["models"]
    assert head["perplexity"][a] == pytest.approx(head["perplexity"][b])     # same weights, same scores
    assert "mc/addition" in head
    assert main(["compare", model.ref, "smollm2-copy"]) == 0
    assert "plot:" in capsys.readouterr().out
    # a model imported from one evaluated model (as chat-model is) shows that model's evaluation;
    # different files under a model parent do not
    chosen = store.import_model("smollm2-chosen", store.model_path(model), parents=[model.ref], stage="align")
    assert "manifest.json" not in {s.path for s in chosen.shards}        # the store's file, not the model's
    labels, _ = table(store, ["smollm2-chosen"])
    assert labels == [f"{chosen.ref} = {model.ref} ({result.ref})"]
    edited = tmp_path / "edited"
    edited.mkdir()
    (edited / "config.json").write_text("{}")
    store.import_model("smollm2-edited", edited, parents=[model.ref], stage="align")
    with pytest.raises(LookupError, match="no evaluation yet"):
        table(store, ["smollm2-edited"])
    assert list((store.catalog.path.parent / "reports").glob("compare-*.png"))


def test_niah_lengths_over_the_models_context_are_skipped_and_counted(smollm2, tmp_path, caplog):
    """A model of 256 positions (the default generator's weights under a config that says so) is not
    given 384-token prompts: that length is skipped with a warning and recorded, 200 runs."""
    store = open_store()
    short = tmp_path / "smollm2-256"
    short.mkdir()
    for f in smollm2.iterdir():
        if f.name != "config.json":
            (short / f.name).symlink_to(f)
    config = json.loads((smollm2 / "config.json").read_text())
    (short / "config.json").write_text(json.dumps(config | {"max_position_embeddings": 256}))
    params = SMALL | {"tasks": ["niah"], "niah_lengths": [200, 384], "niah_langs": ["en"]}
    with caplog.at_level("WARNING", logger="zhinao.eval"):
        m = store.resolve(execute_stage(EVALUATE, EvalParams(model=str(short), **params), store=store).ref)
    assert "384 skipped (2 items): the model takes at most 256 tokens (max_position_embeddings)" in caplog.text
    rows = store.open_arrow(m).to_pylist()
    assert {json.loads(r["detail"])["length"] for r in rows} == {200} and len(rows) == 2
    assert m.stats["tables"]["niah_skipped"] == [{"length": 384, "limit": 256, "limit_from": "max_position_embeddings",
                                                  "items": 2}]
    assert m.stats["counters"]["niah_lengths_skipped"] == 1
    score = m.stats["tables"]["scores"][0]
    assert score["task"] == "niah" and "384 skipped" in score["note"] and score["value"] is not None


def test_held_out_text_from_a_folder_and_needles_in_the_languages_it_holds(evaluated, tmp_path):
    """A folder of English essays (.txt) is the perplexity set and the haystack: no ingest first, and
    the needles are English only because the text is; the files are sources of the version id."""
    from zhinao.tasks.eval.defaults import held_out_articles

    store, *_ = evaluated
    essays = tmp_path / "essays"
    essays.mkdir()
    english = [a["text"] for a in held_out_articles(2) if a["lang"] == "en"][:6]
    for i, text in enumerate(english):
        (essays / f"essay-{i}.txt").write_text(text, encoding="utf-8")
    params = SMALL | {"tasks": ["perplexity", "niah"], "niah_langs": None, "niah_lengths": [200],
                      "perplexity_data": str(essays), "limit": 2}
    first = execute_stage(EVALUATE, EvalParams(model="smollm2", **params), store=store)
    rows = store.open_arrow(store.resolve(first.ref)).to_pylist()
    assert {r["group"] for r in rows if r["task"] == "niah"} == {"en/value"}
    assert [r["item"] for r in rows if r["task"] == "perplexity"] == ["essay-0.txt", "essay-1.txt"]
    by_position = store.resolve(first.ref).stats["tables"]["perplexity_by_position"]
    assert by_position[0]["positions"] == "0-63" and sum(r["tokens"] for r in by_position) > 64
    sources = {s["name"] for s in store.resolve(first.ref).sources}
    assert {f"held-out/essay-{i}.txt" for i in range(len(english))} <= sources
    (essays / "essay-5.txt").write_text(english[5] + " One more sentence.", encoding="utf-8")
    again = execute_stage(EVALUATE, EvalParams(model="smollm2", **params), store=store)
    assert not again.cache_hit and again.ref != first.ref          # a changed essay is a new version
    with pytest.raises(FileNotFoundError, match="folder '.*missing' does not exist"):
        execute_stage(EVALUATE, EvalParams(model="smollm2", **params | {"perplexity_data": str(tmp_path / "missing")}),
                      store=store)


def test_teacher_forced_niah_scores_the_answer_without_generating(evaluated, monkeypatch):
    from zhinao.tasks.eval import run

    store, *_ = evaluated
    monkeypatch.setattr(run, "get_generator", lambda spec: pytest.fail("teacher-forced NIAH opened a generator"))
    params = SMALL | {"tasks": ["niah"], "niah_mode": "teacher-forced", "niah_variants": ["value", "fact"],
                      "niah_langs": ["en"], "niah_lengths": [200]}
    m = store.resolve(execute_stage(EVALUATE, EvalParams(model="smollm2", **params), store=store).ref)
    rows = [json.loads(r["detail"]) | r for r in store.open_arrow(m).to_pylist()]
    assert len(rows) == 4 and {r["method"] for r in rows} == {"teacher-forced"}
    assert all(0 < r["score"] <= 1 for r in rows) and {r["group"] for r in rows} == {"en/value", "en/fact"}
    assert m.stats["tables"]["scores"][0]["task"] == "niah"
