"""sft-data: user files in the OpenAI / ShareGPT / Alpaca layouts (bad rows dropped by reason), the
heuristic and generator labels, the stratified sampler's guarantees, and the stage end to end on
judged items, an evolved chat dataset and user files, with a real topic classifier."""
import json
import random
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

from zhinao.tasks.sftdata.stage import SFT_DATA_STAGE, SftDataParams
from zhinao.flows.stage import execute_stage
from zhinao.tasks.chat.layouts import parse_file
from zhinao.tasks.chat.schema import CHAT, LABELS, SFT, chat_id, message_problem
from zhinao.tasks.generate import engine
from zhinao.tasks.generate.api import Completion
from zhinao.tasks.sftdata.label_job import parse_labels
from zhinao.tasks.sftdata.labels import DIFFICULTIES, INTENTS, LENGTH_BUCKETS, heuristic_difficulty, heuristic_intent, \
    length_bucket
from zhinao.tasks.sftdata.stratify import allocate, sample_shards, select, stratum_cap
from zhinao.tasks.store import Store
from zhinao.tasks.home import open_store
from tests.post_train import JUDGED, judge_items


# ---- user files ------------------------------------------------------------------------------------
def _jsonl(*rows) -> str:
    return "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows) + "\n"


def test_openai_messages_files_parse_and_bad_rows_name_their_problem():
    text = _jsonl({"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"},
                                {"role": "assistant", "content": "Hello."}]},
                  {"messages": [{"role": "user", "content": [{"type": "text", "text": "Two "},
                                                              {"type": "text", "text": "parts"}]},
                                {"role": "assistant", "content": "ok"}], "lang": "en"},
                  "{not json",
                  {"messages": [{"role": "user", "content": "question only"}]},
                  {"messages": [{"role": "robot", "content": "beep"}, {"role": "assistant", "content": "boop"}]},
                  {"messages": [{"role": "assistant", "content": "no user"}]},
                  {"messages": [{"role": "user", "content": "  "}, {"role": "assistant", "content": "x"}]},
                  {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": "x"}]},
                                {"role": "assistant", "content": "x"}]},
                  {"prompt": "other layout"}, [1, 2])
    layout, rows = parse_file(text, "chats.jsonl")
    assert layout == "openai" and [r.line for r in rows] == list(range(1, 11))
    assert rows[0].messages[0] == {"role": "system", "content": "Be brief."} and rows[0].problem is None
    assert rows[1].messages[0]["content"] == "Two parts" and rows[1].lang == "en"
    assert [r.problem for r in rows[2:]] == ["bad_json", "last_turn_not_assistant", "unknown_role", "no_user_turn",
                                             "empty_turn", "non_text_content", "missing_field:messages",
                                             "not_an_object"]


def test_sharegpt_and_alpaca_layouts_are_detected_per_file():
    sharegpt = json.dumps([
        {"conversations": [{"from": "human", "value": "Explain recursion."}, {"from": "gpt", "value": "A function..."},
                           {"from": "human", "value": "An example?"}, {"from": "gpt", "value": "fact(n)"}],
         "system": "You teach."},
        {"conversations": [{"from": "alien", "value": "x"}, {"from": "gpt", "value": "y"}]},
        {"conversations": [{"from": "human", "value": 3}, {"from": "gpt", "value": "y"}]}])
    layout, rows = parse_file(sharegpt, "share.json")
    assert layout == "sharegpt"
    assert [m["role"] for m in rows[0].messages] == ["system", "user", "assistant", "user", "assistant"]
    assert [r.problem for r in rows[1:]] == ["unknown_role", "bad_message"]
    alpaca = _jsonl({"instruction": "Summarize.", "input": "A long text.", "output": "Short."},
                    {"instruction": "List colors.", "input": "", "output": "Red."},
                    {"instruction": "No answer."}, {"instruction": "Bad input.", "input": 5, "output": "x"})
    layout, rows = parse_file(alpaca, "alpaca.jsonl")
    assert layout == "alpaca" and rows[0].messages[0]["content"] == "Summarize.\n\nA long text."
    assert rows[1].messages == [{"role": "user", "content": "List colors."}, {"role": "assistant", "content": "Red."}]
    assert [r.problem for r in rows[2:]] == ["missing_field:output", "bad_field:input"]


def test_files_without_a_known_layout_are_errors_naming_them():
    with pytest.raises(ValueError, match=r"odd.jsonl: no row in a known chat layout .*keys \['a', 'b'\]"):
        parse_file(_jsonl({"a": 1, "b": 2}), "odd.jsonl")
    with pytest.raises(ValueError, match="empty.jsonl: the file is empty"):
        parse_file("\n\n", "empty.jsonl")
    with pytest.raises(ValueError, match="broken.json: not valid JSON"):
        parse_file("[{", "broken.json")


# ---- labels ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("request_text, intent", [
    ("Translate 'good morning' into French.", "translation"), ("把这句话翻译成英文：今天下雨。", "translation"),
    ("Write a Python function that reverses a list.", "coding"), ("写一个函数，计算列表的和。", "coding"),
    ("A box holds 6 pens. How many pens are in 5 boxes?", "math"), ("小明有12个苹果，吃了3个，还剩多少个？", "math"),
    ("Summarize this article in one sentence.", "summarization"), ("总结一下这段话的要点。", "summarization"),
    ("Rewrite this sentence in a formal tone.", "rewriting"), ("Extract every date from the text.", "extraction"),
    ("Is this review positive or negative?", "classification"), ("Write a haiku about snow.", "creative_writing"),
    ("写一首关于春天的诗。", "creative_writing"), ("Suggest five names for a bakery.", "brainstorming"),
    ("Why is the sky blue?", "reasoning"), ("What is the capital of Peru?", "open_qa"),
    ("今天天气怎么样？", "open_qa"), ("Hello there", "chat"),
])
def test_heuristic_intents_in_both_languages(request_text, intent):
    assert heuristic_intent(request_text) == intent


def test_heuristic_difficulty_and_length_buckets():
    assert heuristic_difficulty("What is 2 + 2?", "4", "math", 1) == "easy"
    hard = ("Write a Python function that must handle empty lists, must run in linear time and should return "
            "exactly three values; explain the complexity step by step and prove it is correct for every input "
            "size, including the edge cases where the list holds duplicates, negative numbers or very large "
            "values that do not fit in memory, and compare it with at least two other approaches.")
    assert heuristic_difficulty(hard, "x " * 400, "coding", 2) == "hard"
    edges = [64, 256, 1024]
    assert [length_bucket("w " * n, edges) for n in (0, 63, 64, 255, 256, 1024)] == \
        ["short", "short", "medium", "medium", "long", "very_long"]
    assert length_bucket("字" * 300, edges) == "long"          # a Han character counts as a word
    assert set(LENGTH_BUCKETS) == {"short", "medium", "long", "very_long"}


def test_generator_label_answers_parse_into_the_fixed_sets():
    assert parse_labels("Intent: creative writing\nDifficulty: Hard") == ("creative_writing", "hard")
    assert parse_labels("Intent: open-qa.\nDifficulty: easy, I think") == ("open_qa", "easy")
    assert parse_labels("Intent: poetry\nDifficulty: trivial") == (None, None)
    assert parse_labels("I cannot classify this.") == (None, None)


# ---- the stratified sampler ---------------------------------------------------------------------------
def test_allocation_is_proportional_under_the_caps():
    counts = {"a": 100, "b": 50, "c": 10, "d": 1}
    assert allocate(counts, 1000) == counts                               # below the target: everything
    assert allocate(counts, 80) == {"a": 50, "b": 25, "c": 5, "d": 0}      # exactly proportional
    assert allocate(counts, 60, cap=20) == {"a": 20, "b": 20, "c": 10, "d": 1}   # caps bind: 51 < 60
    assert allocate(counts, 40, cap=25) == {"a": 25, "b": 12, "c": 3, "d": 0}    # what a leaves goes to the rest
    assert stratum_cap(1000, 10, None, 3.0) == 300 and stratum_cap(1000, 10, 50, 3.0) == 50
    assert stratum_cap(1000, 10, None, None) is None
    rng = random.Random(0)
    for _ in range(200):
        counts = {f"s{i}": rng.randint(0, 60) for i in range(rng.randint(1, 12))}
        target, cap = rng.randint(1, 300), rng.choice([None, rng.randint(1, 40)])
        quota = allocate(counts, target, cap, seed=rng.randint(0, 9))
        limit = {s: min(n, cap) if cap else n for s, n in counts.items()}
        assert sum(quota.values()) == min(target, sum(limit.values()))
        assert all(0 <= quota[s] <= limit[s] for s in counts)
        # strata below their limit get one rate (to rounding); a stratum at its limit would have had more
        free = [s for s in counts if quota[s] < limit[s]]
        if free and sum(quota.values()) == target:
            rates = [quota[s] / counts[s] for s in free]
            slack = max(1 / n for n in counts.values() if n) + 1e-9      # one item of rounding
            assert max(rates) - min(rates) <= slack
            assert all(quota[s] / counts[s] <= max(rates) + slack for s in counts if counts[s] and s not in free)


def test_selection_is_deterministic_by_seed_and_independent_of_order():
    items = [(f"id{i}", f"s{i % 3}") for i in range(90)]
    quota = {"s0": 5, "s1": 10, "s2": 0}
    taken = select(items, quota, seed=0)
    assert Counter(int(i[2:]) % 3 for i in taken) == {0: 5, 1: 10}
    assert taken == select(list(reversed(items)), quota, seed=0)
    assert taken != select(items, quota, seed=1)


def test_sampling_shards_counts_duplicates_once_and_says_why_items_are_left_out():
    def row(i, domain):
        return {"id": f"id{i}", "domain": domain, "intent": "chat", "difficulty": "easy", "length_bucket": "short"}

    shards = [[row(i, "big") for i in range(40)] + [row(i, "small") for i in range(40, 44)],
              [row(0, "big"), row(45, "small")]]                         # id0 again, in a later shard
    s = sample_shards(shards, LABELS, target=20, max_per_stratum=12, cap_factor=None, seed=0)
    assert s["summary"]["duplicates"] == 1 and s["summary"]["items_before"] == 45
    assert len(s["after"]) == 17 and s["summary"]["stratum_cap"] == 12   # big capped at 12, small has 5
    assert Counter(r["domain"] for r in s["after"]) == {"big": 12, "small": 5}
    assert set(s["reasons"][0].values()) == {"stratum_cap"} and "id0" not in set(s["reasons"][1]) | s["keep"][1]
    assert len(s["keep"][0] | s["keep"][1]) == 17


# ---- the stage ---------------------------------------------------------------------------------------
def _inputs(store: Store, topic_folder: Path) -> dict[str, str]:
    chats = []
    for i, (user, answer) in enumerate([("Describe how tides form. Answer in two sentences.",
                                         "The moon's gravity pulls the oceans. The Earth's turn makes two tides a day."),
                                        ("列出三座著名的桥。", "金门大桥、伦敦塔桥和南京长江大桥。")]):
        messages = [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
        chats.append({"id": chat_id(messages, "evolve:self-instruct"), "messages": messages,
                      "lang": "zh" if i else "en", "origin": "evolve:self-instruct", "evolved_from": "seed-en-01"})
    return {"judge": judge_items(store),
            "instruct-evolve": store.import_tables("instruct-evolve", [pa.Table.from_pylist(chats, schema=CHAT)]).ref,
            "topic-model": store.import_model("topic-model", topic_folder).ref}


def _files(folder: Path) -> list[str]:
    (folder / "chats.jsonl").write_text(_jsonl(
        {"messages": [{"role": "user", "content": "What is the capital of France?"},
                      {"role": "assistant", "content": "Paris is the capital of France."}]},
        {"messages": [{"role": "user", "content": "Hi"}]},
        "not json",
        {"messages": [{"role": "user", "content": "Bonjour, comment ça va aujourd'hui ?"},
                      {"role": "assistant", "content": "Très bien, merci beaucoup, et vous ?"}]},
        {"messages": [{"role": "user", "content": "What is the capital of France?"},          # a repeat
                      {"role": "assistant", "content": "Paris is the capital of France."}]}))
    (folder / "share.json").write_text(json.dumps([
        {"conversations": [{"from": "human", "value": "Translate 'good night' into Chinese."},
                           {"from": "gpt", "value": "晚安。"}]},
        {"conversations": [{"from": "bot", "value": "?"}, {"from": "gpt", "value": "!"}]}], ensure_ascii=False))
    (folder / "alpaca.jsonl").write_text(_jsonl(
        {"instruction": "Summarize the text.", "input": "The fox jumps over the dog. It was sunny.",
         "output": "A fox jumps over a dog on a sunny day."},
        {"instruction": "Missing its output."}))
    return [str(folder / n) for n in ("chats.jsonl", "share.json", "alpaca.jsonl")]


def test_the_stage_labels_samples_and_reports(topic_folder, tmp_path, zhinao_home):
    store = open_store()
    inputs = _inputs(store, topic_folder)
    params = SftDataParams(use_ray=False, audit=True, files=_files(tmp_path), target_size=8, max_per_stratum=1)
    r = execute_stage(SFT_DATA_STAGE, params, inputs=inputs)
    kept, dropped = store.open_arrow(r.ref), store.open_arrow(r.audit_ref).to_pylist()
    assert kept.schema.names == SFT.names
    kept = kept.to_pylist()
    assert r.rows == len(kept) == r.stats["tables"]["sampling"][0]["items_after"] <= 8
    strata = Counter(tuple(k[c] for c in LABELS) for k in kept)
    assert max(strata.values()) == 1                                      # the cap: one item per combination
    for k in kept:
        assert message_problem(k["messages"]) is None and k["lang"] in ("en", "zh")
        assert k["intent"] in INTENTS and k["difficulty"] in DIFFICULTIES and k["length_bucket"] in LENGTH_BUCKETS
        assert k["domain"] and k["domain"] != "(none)"
    reasons = Counter(d["drop_reason"] for d in dropped)
    assert {"last_turn_not_assistant", "bad_json", "unsupported_language", "duplicate", "unknown_role",
            "missing_field:output"} <= set(reasons)
    assert sum(reasons[x] for x in ("stratum_cap", "sampled_out")) + len(kept) == \
        r.stats["tables"]["sampling"][0]["items_before"]
    assert dict(r.stats["dropped"]) == dict(reasons)
    assert r.stats["counters"]["rows_in"] == len(kept) + len(dropped) == 5 + 2 + 5 + 2 + 2
    # the judged items: one-turn chats with their origin, math and code intents from their kind
    from_judge = {k["messages"][0]["content"]: k for k in kept + dropped if k["origin"] == "judge"}
    assert len(from_judge) == 5 and all(len(k["messages"]) == 2 for k in from_judge.values())
    assert from_judge[JUDGED[0][2]]["intent"] == "math" and from_judge[JUDGED[1][2]]["intent"] == "coding"
    assert {k["lang"] for k in from_judge.values()} == {"en", "zh"}
    evolved = [k for k in kept + dropped if k["origin"] == "evolve:self-instruct"]
    assert len(evolved) == 2 and all(k["evolved_from"] == "seed-en-01" for k in evolved)
    files = {f["file"]: f for f in r.stats["tables"]["files"]}
    assert files["chats.jsonl"]["layout"] == "openai" and files["share.json"]["layout"] == "sharegpt"
    assert files["alpaca.jsonl"]["drop_reasons"] == "missing_field:output=1"
    labels = r.stats["tables"]["labels"]
    for label in LABELS + ("lang", "origin"):
        mine = [row for row in labels if row["label"] == label]
        assert sum(row["after"] for row in mine) == len(kept), label
        assert sum(row["before"] for row in mine) == r.stats["tables"]["sampling"][0]["items_before"], label
    assert Path(r.stats["tables"]["plots"][0]["path"]).exists()
    m = store.resolve(r.ref)
    assert set(inputs.values()) <= set(m.parents)
    assert {"file/chats.jsonl", "file/share.json", "file/alpaca.jsonl"} <= {s["name"] for s in m.sources}
    assert "temperature" not in m.params and "seed" in m.params          # generation settings shape nothing here
    again = execute_stage(SFT_DATA_STAGE, params, inputs=inputs)
    assert again.cache_hit and again.ref == r.ref
    other = execute_stage(SFT_DATA_STAGE, params.model_copy(update={"seed": 3}), inputs=inputs)
    assert other.ref != r.ref and other.rows == r.rows                     # same strata, other items in them


def test_the_generator_labeler_falls_back_per_label(topic_folder, tmp_path, smollm2, monkeypatch):
    class Labeler:
        def generate(self, requests):
            out = []
            for req in requests:
                user = req.messages[-1][1]
                assert req.prefill == "Intent:" and "Request:\n" in user
                text = "Intent: math\nDifficulty: hard" if "pens" in user else "Intent: dancing\nDifficulty: easy"
                out.append(Completion(text, "stop", 5, 5))
            return out

    monkeypatch.setattr(engine, "get_generator", lambda spec: Labeler())
    store = open_store()
    inputs = _inputs(store, topic_folder)
    r = execute_stage(SFT_DATA_STAGE, SftDataParams(use_ray=False, labeler="generator", datasets=["judge"]),
                      inputs={k: inputs[k] for k in ("judge", "topic-model")})
    kept = {k["messages"][0]["content"]: k for k in store.open_arrow(r.ref).to_pylist()}
    assert kept[JUDGED[0][2]]["difficulty"] == "hard" and kept[JUDGED[0][2]]["intent"] == "math"
    for prompt, k in kept.items():       # "dancing" is no intent: the rule's intent stays, the difficulty is the answer's
        if prompt != JUDGED[0][2]:
            assert k["intent"] == heuristic_intent(prompt) and k["difficulty"] == "easy"
    assert r.stats["histograms"]["label_source"] == {"intent:heuristic,difficulty:generator": 4,
                                                     "intent:generator,difficulty:generator": 1}
    assert r.stats["counters"]["labels.rows_in"] == 5
    assert any(s["name"] == "template/sft-labels" for s in store.resolve(r.ref).sources)


def test_bad_inputs_are_refused_with_the_reason(topic_folder, tmp_path):
    store = open_store()
    inputs = _inputs(store, topic_folder)
    docs = store.import_tables("rebalance", [pa.Table.from_pylist([{"id": "d", "text": "x"}])]).ref
    with pytest.raises(ValueError, match="neither a chat dataset"):
        execute_stage(SFT_DATA_STAGE, SftDataParams(use_ray=False, datasets=["rebalance"]),
                      inputs={"rebalance": docs, "topic-model": inputs["topic-model"]})
    with pytest.raises(ValueError, match="not a topic classifier"):
        execute_stage(SFT_DATA_STAGE, SftDataParams(use_ray=False, datasets=["judge"]),
                      inputs={"judge": inputs["judge"], "topic-model": docs})
    with pytest.raises(FileNotFoundError, match="user file .*missing.jsonl does not exist"):
        execute_stage(SFT_DATA_STAGE, SftDataParams(use_ray=False, datasets=[], files=[str(tmp_path / "missing.jsonl")]),
                      inputs={"topic-model": inputs["topic-model"]})
    (tmp_path / "odd.jsonl").write_text('{"text": "plain"}\n')
    with pytest.raises(ValueError, match="odd.jsonl: no row in a known chat layout"):
        execute_stage(SFT_DATA_STAGE, SftDataParams(use_ray=False, datasets=[], files=[str(tmp_path / "odd.jsonl")]),
                      inputs={"topic-model": inputs["topic-model"]})
    with pytest.raises(ValueError, match="length_edges"):
        SftDataParams(length_edges=[10, 5, 20])
    with pytest.raises(ValueError, match="needs input datasets or files"):
        SftDataParams(datasets=[], files=[])
