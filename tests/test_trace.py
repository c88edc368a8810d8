"""`zhinao trace` on controlled cases: a document dropped at one stage says where and why (from
the drop record the stage wrote as it ran), a kept one says what each stage changed, a snippet
finds its document, and a mixture document's token ranges and the models trained on them."""
import json

import numpy as np
import pyarrow as pa

from zhinao.app.cli import main
from zhinao.flows.stage import execute_stage
from zhinao.tasks.provenance.trace import drop_record, trace
from zhinao.tasks.runtime.drops import compact
from zhinao.tasks.home import open_store
from tests.stages import EVENS, NUMBERS, QUADS, DerivedParams, NumParams


def _chain():
    execute_stage(NUMBERS, NumParams(use_ray=False, count=20, per_split=5))
    execute_stage(EVENS, DerivedParams(use_ray=False))
    return execute_stage(QUADS, DerivedParams(use_ray=False))


def test_a_dropped_document_says_where_and_why_and_a_kept_one_what_changed():
    _chain()
    store = open_store()
    evens = store.resolve("evens")
    assert len(evens.drops) == 1 and drop_record(store, evens).num_rows == 10      # one file for four splits
    t = trace(store, "n3")
    assert t["matched_by"] == "id" and [s["stage"] for s in t["steps"]] == ["numbers", "evens"]
    dropped = t["steps"][-1]
    assert dropped["status"] == "dropped" and dropped["reason"] == "odd" and dropped["signals"] == {"text": "3", "n": 3}
    kept = trace(store, "n2")
    assert [(s["stage"], s["status"], s["changes"].get("n")) for s in kept["steps"]] == [
        ("numbers", "kept", 2), ("evens", "kept", 4), ("quads", "kept", 8)]
    assert kept["steps"][1]["changes"] == {"n": 4}                  # only what the stage changed
    assert trace(store, "17")["id"] == "n17" and trace(store, "17")["matched_by"] == "text"
    several = trace(store, "1")
    assert "id" not in several and {m["id"] for m in several["matches"]} >= {"n1", "n10", "n11"}


def test_the_cli_prints_the_trace_and_its_json(capsys):
    _chain()
    assert main(["trace", "n3"]) == 0
    out = capsys.readouterr().out
    assert "DROPPED  odd" in out and "evens@" in out
    assert main(["trace", "n3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["steps"][-1]["reason"] == "odd"
    assert main(["trace", "no-such-document"]) == 2
    assert "no document matches" in capsys.readouterr().out


def test_the_drop_record_keeps_signals_not_content():
    big = "x" * 5000
    table = pa.table({"id": ["a"], "text": [big], "url": ["http://e.x/a"], "lang": ["en"], "score": [0.25],
                      "vector": [[0.1] * 384], "dup_of": ["b"], "drop_reason": ["near_duplicate"]})
    row = compact(table).to_pylist()[0]
    assert {k: row[k] for k in ("id", "drop_reason", "dup_of", "url")} == {
        "id": "a", "drop_reason": "near_duplicate", "dup_of": "b", "url": "http://e.x/a"}
    assert json.loads(row["signals"]) == {"lang": "en", "score": 0.25}              # no text, no vector
    assert json.loads(compact(table, signals=["score"]).to_pylist()[0]["signals"]) == {"score": 0.25}


def test_a_mixture_document_has_token_ranges_and_the_models_trained_on_them(tmp_path):
    from zhinao.tasks.tokens.pack import load_tokenizer, read_tokens
    from tests.pretrain_data import token_versions

    refs = token_versions()
    store = open_store()
    mix = store.resolve("mix-stage1")
    doc = store.open_arrow(mix).slice(4, 1).to_pylist()[0]
    folders = {}
    for name, parents in (("pretrain-stage1", [refs["tokens-stage1"]]), ("sft", None)):
        folders[name] = tmp_path / name
        folders[name].mkdir()
        (folders[name] / "config.json").write_text(json.dumps({"name": name}))
    base = store.import_model("pretrain-stage1", folders["pretrain-stage1"], parents=[refs["tokens-stage1"]])
    tuned = store.import_model("sft", folders["sft"], parents=[base.ref])
    t = trace(store, doc["id"])
    assert t["steps"][0]["ref"] == mix.ref and t["steps"][0]["at"] == [{"shard": mix.shards[0].path, "row": 4}]
    (tokens,) = [x for x in t["tokens"] if x["ref"] == refs["tokens-stage1"]]
    (r,) = tokens["ranges"]
    folder = store.model_path(refs["tokens-stage1"], kind="tokens")
    stream, _ = read_tokens(folder, r["file"].removesuffix(".bin"))
    tok = load_tokenizer(str(store.model_path(refs["tokenizer"])))
    assert np.array_equal(stream[r["start"]:r["end"] - 1], tok.encode(doc["text"], add_special_tokens=False).ids)
    assert {(m["ref"], m["direct"]) for m in t["models"]} == {(base.ref, True), (tuned.ref, False)}


def test_a_filter_drop_names_the_signal_and_limit_that_decided_it():
    from zhinao.tasks.provenance.trace import _decided_by
    from zhinao.tasks.store import Manifest

    m = Manifest(dataset="quality", version="q", stage="quality", code="", parents=[],
                 params={"gopher_quality": {"min_stop_words": 2, "max_symbol_word_ratio": 0.1}})
    signals = {"gq_words": 151, "gq_stop_words": 0, "gq_symbol_word_ratio": 0.0}
    assert _decided_by(m, "gopher_quality.min_stop_words", signals) == {
        "decided_by": {"gq_stop_words": 0}, "limit": {"min_stop_words": 2}}
    assert _decided_by(m, "lang_not_kept", {"lang": "de"}) == {}
