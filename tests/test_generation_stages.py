"""rewrite, synth, judge and rm-score as stages: real text from the default model, the judge stage on
known judge answers, retries that keep finished batches, restarted actors, the reward-model filter,
lineage back to the documents."""
import datetime as dt
import json
import os
import sys

import pyarrow as pa
import pytest

from zhinao.tasks.generate.judge_stage import JUDGE_STAGE, JudgeParams
from zhinao.flows.lineage_view import to_markdown
from zhinao.tasks.generate.rewrite_stage import REWRITE_STAGE, RewriteParams
from zhinao.tasks.reward.score_stage import RM_SCORE_STAGE, RMScoreParams
from zhinao.flows.stage import execute_stage
from zhinao.tasks.generate.synth_stage import SYNTH_STAGE, SynthParams
from zhinao.tasks.generate import engine
from zhinao.tasks.generate.api import Completion
from zhinao.tasks.generate.judge import DIMENSIONS
from zhinao.tasks.store import Store
from zhinao.tasks.home import open_store

UTC = dt.timezone.utc
DOCS = [
    ("d1", "en", "The city council met on Tuesday to discuss the new bike lanes on Main Street. Residents said the "
                 "lanes make cycling safer for children. The project costs two million dollars and will be finished "
                 "next spring, the mayor said."),
    ("d2", "en", "Sourdough bread needs only flour, water and salt. A starter of wild yeast gives it a sour taste. "
                 "Knead the dough, let it rise overnight, then bake it at 230 degrees for 40 minutes until the crust "
                 "is brown."),
    ("d3", "en", "Python lists keep their items in order. Use append to add an item at the end, insert to put one at "
                 "a position, and len to count the items. Lists can hold numbers, strings or other lists."),
    ("d4", "en", "A train leaves the station at 9 am travelling at 80 kilometres per hour. Timetables list each stop "
                 "and the time between them, so travellers can plan connections and arrival times."),
]


def _docs(store: Store, n: int = 4) -> str:
    rows = [{"id": i, "text": t, "url": f"https://example.org/{i}", "source": "crawl", "lang": lang,
             "timestamp": dt.datetime(2024, 1, k + 1, tzinfo=UTC)} for k, (i, lang, t) in enumerate(DOCS[:n])]
    return store.import_tables("rebalance", [pa.Table.from_pylist(rows)]).ref


def test_rewrite_writes_real_text_linked_to_its_source(smollm2):
    store = open_store()
    docs = _docs(store)
    r = execute_stage(REWRITE_STAGE, RewriteParams(use_ray=False, max_tokens=160, audit=True), inputs={"rebalance": docs})
    kept, dropped = store.open_arrow(r.ref).to_pylist(), store.open_arrow(r.audit_ref).to_pylist()
    assert len(kept) + len(dropped) == 4                        # one style per document by default
    assert kept, dropped
    for row in kept:
        assert row["rewritten_from"] in {d[0] for d in DOCS} and row["style"] in ("article", "qa", "notes")
        assert len(row["text"]) >= 80 and row["template"].startswith(f"rewrite-{row['style']}/v")
    assert all(d["drop_reason"] for d in dropped)
    assert r.stats["counters"]["completion_tokens"] > 0
    assert store.resolve(r.ref).parents == [docs]
    assert execute_stage(REWRITE_STAGE, RewriteParams(use_ray=False, max_tokens=160, audit=True),
                         inputs={"rebalance": docs}).cache_hit


def test_a_failed_attempt_keeps_its_finished_batches(smollm2, monkeypatch):
    store = open_store()
    docs = _docs(store, 3)
    params = RewriteParams(use_ray=False, max_tokens=48, min_chars=1, batch_size=1)
    real = engine.get_generator
    calls = []

    class Failing:
        def __init__(self, gen):
            self.gen = gen

        def generate(self, requests):
            calls.append(len(requests))
            if len(calls) == 2:
                raise RuntimeError("worker lost mid-stage")
            return self.gen.generate(requests)

    monkeypatch.setattr(engine, "get_generator", lambda spec: Failing(real(spec)))
    with pytest.raises(RuntimeError, match="worker lost"):
        execute_stage(REWRITE_STAGE, params, inputs={"rebalance": docs})
    assert calls == [1, 1]
    resume = store.root.join(".resume", "rewrite")
    assert len(store.root.listdir(resume)) == 1                 # one version's kept batches
    r = execute_stage(REWRITE_STAGE, params, inputs={"rebalance": docs})
    assert r.stats["counters"]["batches_resumed"] == 1 and calls == [1, 1, 1, 1]   # 2 generated, 1 reused
    assert r.stats["counters"]["rows_in"] == 3
    assert not store.root.listdir(resume)                       # removed with the commit


def test_synth_two_rounds_then_judge(smollm2):
    store = open_store()
    docs = _docs(store)
    s = execute_stage(SYNTH_STAGE, SynthParams(use_ray=False, max_tokens=256, rounds=2, audit=True, batch_size=12),
                      inputs={"rebalance": docs})
    c = s.stats["counters"]
    assert c["topics.rows_in"] == 4 and c["round1.rows_in"] > 0 and c["round2.rows_in"] > 0
    items = store.open_arrow(s.ref).to_pylist()
    dropped = store.open_arrow(s.audit_ref).to_pylist()
    assert items and {i["round"] for i in items + dropped} == {1, 2}
    for it in items:
        assert it["synth_from"] in {d[0] for d in DOCS} and it["prompt"] and it["response"]
        assert it["kind"] != "math" or it["answer"] is not None
        assert it["round"] == 1 or it["evolved_from"]
    assert sum(s.stats["dropped"].values()) == len(dropped)
    j = execute_stage(JUDGE_STAGE, JudgeParams(use_ray=False, audit=True, min_scores={}), inputs={"synth": s.ref})
    judged = store.open_arrow(j.ref).to_pylist() + store.open_arrow(j.audit_ref).to_pylist()
    assert len(judged) == len(items)
    scored = [row for row in judged if row["judge_mean"] is not None]
    # the default model answers the prefilled JSON: the stage parses scores, not only drop reasons
    assert scored, [row["drop_reason"] for row in judged]
    for row in judged:
        if row["judge_mean"] is not None:
            dims = [row[f"judge_{d}"] for d in DIMENSIONS]
            assert all(1 <= v <= 10 for v in dims) and row["judge_mean"] == pytest.approx(sum(dims) / 4)
        else:
            assert row["drop_reason"] in ("judge_unparseable", "generation_error")
        assert row["kind"] != "math" or row["answer_check"] in ("agree", "disagree", "unchecked")
        assert row["kind"] != "code" or row["code_runs"] in (True, False)
    lineage = store.lineage(j.ref)
    assert lineage.parents[0].manifest.ref == s.ref and lineage.parents[0].parents[0].manifest.ref == docs
    page = to_markdown(lineage)                  # the lineage artifact names the prompts and model files
    assert "template/judge-scores" in page and "template/synth-math" in page and "model.safetensors" in page


def _scores(c, d, cl, u) -> str:
    return json.dumps({"correctness": c, "difficulty": d, "clarity": cl, "usefulness": u})


# synthetic items, and what the stand-in judge answers for each: its judge attempts (the greedy one,
# then the sampled one), the math re-solve and program, and what the stage must make of them
JUDGED = [
    dict(id="m-agree", kind="math", prompt="Ann has 3 boxes of 12 eggs and breaks 5. How many are left?",
         response="3*12 = 36, 36 - 5 = 31.", answer="31",
         judge=[_scores(8, 4, 7, 9)], resolve="36 - 5 = 31\nFinal answer: 31", program="```python\nprint(0)\n```",
         expect=dict(scores=(8, 4, 7, 9), answer_check="agree", drop=None)),
    dict(id="m-second", kind="math", prompt="A bus has 40 seats and 12 are taken. How many are free?",
         response="40 - 12 = 28.", answer="28",
         judge=["The sample looks fine to me.", _scores(6, 3, 5, 6) + "\nThe steps are short."],
         resolve="no idea", program="```python\nprint(40 - 12)\n```",
         expect=dict(scores=(6, 3, 5, 6), answer_check="agree", drop=None)),
    dict(id="m-mismatch", kind="math", prompt="A box holds 6 pens. How many pens are in 5 boxes?",
         response="6 + 5 = 11.", answer="11",
         judge=[_scores(7, 2, 6, 5)], resolve="6 * 5 = 30\nFinal answer: 30", program="```python\nprint(6 * 5)\n```",
         expect=dict(scores=(7, 2, 6, 5), answer_check="disagree", drop="answer_mismatch")),
    dict(id="i-unparseable", kind="instruction", prompt="Plan a day in Rome.", response="Start at the Colosseum.",
         answer=None, judge=['{"correctness": 7, "difficulty": 3, "usefulness": 6}',       # clarity missing
                             '{"correctness": 11, "difficulty": 3, "clarity": 8, "usefulness": 6}'],   # out of range
         expect=dict(scores=None, drop="judge_unparseable")),
    dict(id="i-error", kind="instruction", prompt="Name three rivers in Asia.", response="Yangtze, Ganges, Mekong.",
         answer=None, judge=[None, None], expect=dict(scores=None, drop="generation_error")),
    dict(id="i-low", kind="instruction", prompt="Describe a sunset.", response="It is orange.", answer=None,
         judge=[_scores(5, 1, 2, 4)], expect=dict(scores=(5, 1, 2, 4), drop="low_clarity")),
    dict(id="c-runs", kind="code", prompt="Write a function that adds two numbers.",
         response="```python\ndef add(a, b):\n    return a + b\n\nprint(add(2, 3))\n```", answer=None,
         judge=[_scores(9, 2, 8, 7)], expect=dict(scores=(9, 2, 8, 7), code_runs=True, drop=None)),
    dict(id="c-fails", kind="code", prompt="Write a function that divides two numbers.",
         response="```python\ndef div(a, b):\n    return a / b\n\nprint(div(1, 0))\n```", answer=None,
         judge=[_scores(6, 2, 6, 6)], expect=dict(scores=(6, 2, 6, 6), code_runs=False, drop="code_error")),
]


class _StandInJudge:
    """Answers the judge stage's requests from JUDGED, finding each item by the prompt text the
    templates put into the request (a request that names no item fails the test)."""

    def __init__(self):
        self.seen = []

    def _item(self, user: str) -> dict:
        found = [it for it in JUDGED if it["prompt"] in user]
        assert len(found) == 1, user
        return found[0]

    def generate(self, requests):
        out = []
        for r in requests:
            user = r.messages[-1][1]
            it = self._item(user)
            if r.prefill.startswith('{"correctness"'):
                assert f"Response:\n{it['response']}" in user and f"the {it['kind']} sample" in user
                attempt = 0 if r.sampling.temperature == 0.0 else 1
                self.seen.append((it["id"], "judge", attempt))
                text = it["judge"][min(attempt, len(it["judge"]) - 1)]
                out.append(Completion("", "error", error="backend down") if text is None else Completion(text, "stop"))
            elif r.prefill.startswith("```python"):
                self.seen.append((it["id"], "program", 0))
                out.append(Completion(it["program"], "stop"))
            else:
                assert user.startswith("Solve this problem."), user
                self.seen.append((it["id"], "resolve", 0))
                out.append(Completion(it["resolve"], "stop"))
        return out


def test_judge_stage_scores_checks_and_drops_known_judge_answers(smollm2, monkeypatch):
    """The judge stage end to end on a stand-in generator whose answers are known: parsed scores land
    in the judge_* columns (the second attempt counts when the first does not parse), math answers
    are checked, code is run, and every drop names its reason."""
    store = open_store()
    rows = [{k: it[k] for k in ("id", "kind", "prompt", "response", "answer")} for it in JUDGED]
    synth = store.import_tables("synth", [pa.Table.from_pylist(rows)]).ref
    stand_in = _StandInJudge()
    monkeypatch.setattr(engine, "get_generator", lambda spec: stand_in)
    j = execute_stage(JUDGE_STAGE, JudgeParams(use_ray=False, audit=True), inputs={"synth": synth})
    kept = {r["id"]: r for r in store.open_arrow(j.ref).to_pylist()}
    dropped = {r["id"]: r for r in store.open_arrow(j.audit_ref).to_pylist()}
    assert len(kept) + len(dropped) == len(JUDGED) and not set(kept) & set(dropped)
    for it in JUDGED:
        want = it["expect"]
        row = kept.get(it["id"]) or dropped[it["id"]]
        assert (it["id"] in kept) == (want["drop"] is None), (it["id"], row.get("drop_reason"))
        assert row.get("drop_reason") == want["drop"], it["id"]
        if want["scores"] is None:
            assert row["judge_mean"] is None and all(row[f"judge_{d}"] is None for d in DIMENSIONS)
        else:
            assert tuple(row[f"judge_{d}"] for d in DIMENSIONS) == want["scores"], it["id"]
            assert row["judge_mean"] == pytest.approx(sum(want["scores"]) / 4)
        assert row["answer_check"] == want.get("answer_check")
        assert row["code_runs"] == want.get("code_runs")
    # two judge requests per item (greedy, then sampled), a re-solve and a program per math item
    assert sorted(stand_in.seen) == sorted([(it["id"], "judge", k) for it in JUDGED for k in (0, 1)]
                                           + [(it["id"], step, 0) for it in JUDGED if it["kind"] == "math"
                                              for step in ("resolve", "program")])
    assert j.stats["dropped"] == {"answer_mismatch": 1, "judge_unparseable": 1, "generation_error": 1,
                                  "low_clarity": 1, "code_error": 1}


def _kill_once_build(marker, row, p):
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)                                             # the actor's process dies mid-batch
    from zhinao.tasks.generate.rewrite import build

    return build(row, p)


def test_a_dead_actor_is_restarted_and_its_batch_retried(smollm2, ray_local, tmp_path, monkeypatch):
    import dataclasses
    from functools import partial

    from ray import cloudpickle

    from zhinao.tasks.generate import generation as rewrite_flow
    from zhinao.tasks.generate import rewrite

    cloudpickle.register_pickle_by_value(sys.modules[__name__])    # Ray workers cannot import tests/
    marker = tmp_path / "killed"
    monkeypatch.setattr(rewrite, "JOB", engine.GenJob("rewrite", partial(_kill_once_build, str(marker)), rewrite.parse))
    stage = REWRITE_STAGE

    def run(ctx):
        with rewrite_flow.generator(ctx) as spec:
            splits = [rewrite_flow.gen_split(ctx, spec, rewrite.SCHEMA, path=s["path"], ids=s["ids"])
                      for s in ctx.plan.splits]
            return ctx.final(engine.GenerateRows(rewrite.JOB), splits, desc="rewrite",
                             actors=rewrite_flow.GENERATOR_ACTORS)

    store = open_store()
    docs = _docs(store, 2)
    r = execute_stage(dataclasses.replace(stage, run=run), RewriteParams(max_tokens=32, min_chars=1),
                      inputs={"rebalance": docs})
    assert marker.exists() and r.stats["counters"]["rows_in"] == 2


def _tiny_reward_model(path, smollm2) -> None:
    """A 2-layer Llama reward model trained (Bradley-Terry) to prefer real answers over filler."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForSequenceClassification

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(smollm2)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, num_labels=1, pad_token_id=tok.pad_token_id)
    model = LlamaForSequenceClassification(cfg)
    good = ["Paris is the capital of France.", "Add the numbers: 3 + 4 = 7.", "Use a loop to sum the list items."]
    bad = ["asdf asdf asdf asdf", "no no no no no", "zzz qqq zzz qqq"]
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    enc = lambda xs: tok(xs, return_tensors="pt", padding=True)    # noqa: E731
    for _ in range(40):
        loss = -torch.nn.functional.logsigmoid(model(**enc(good)).logits - model(**enc(bad)).logits).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.save_pretrained(path)
    tok.save_pretrained(path)


def test_rm_score_filters_each_category_below_mean_minus_std(smollm2, tmp_path):
    store = open_store()
    _tiny_reward_model(tmp_path / "rm", smollm2)
    rm = store.import_model("reward-model", tmp_path / "rm", stage="test")
    rows = []
    for kind in ("math", "code"):
        for k in range(6):
            rows.append({"id": f"{kind}-good-{k}", "kind": kind, "prompt": f"Question {k}?",
                         "response": "Add the numbers: 3 + 4 = 7." if kind == "math" else "Use a loop to sum the list items."})
        rows.append({"id": f"{kind}-bad", "kind": kind, "prompt": "Question?", "response": "asdf asdf asdf asdf"})
    items = store.import_tables("judge", [pa.Table.from_pylist(rows)]).ref
    r = execute_stage(RM_SCORE_STAGE, RMScoreParams(reward_model="reward-model", use_ray=False, audit=True),
                      inputs={"judge": items})
    kept = store.open_arrow(r.ref).to_pylist()
    dropped = store.open_arrow(r.audit_ref).to_pylist()
    assert {d["id"] for d in dropped} == {"math-bad", "code-bad"}
    assert all(d["drop_reason"] == "rm_below_mean_minus_std" for d in dropped)
    table = {t["category"]: t for t in r.stats["tables"]["categories"]}
    for kind in ("math", "code"):
        scores = [x["rm_score"] for x in kept + dropped if x["kind"] == kind]
        mean = sum(scores) / len(scores)
        std = (sum((s - mean) ** 2 for s in scores) / len(scores)) ** 0.5
        assert table[kind]["threshold"] == pytest.approx(mean - std, abs=1e-3)
        assert table[kind]["kept"] == 6 and table[kind]["dropped"] == 1
    assert os.path.exists(r.stats["tables"]["plots"][0]["path"])
    assert rm.ref in store.resolve(r.ref).parents                    # the reward model is in the lineage


def test_rm_filter_drops_exactly_the_conversations_under_their_category_threshold(smollm2, tmp_path):
    from zhinao.tasks.reward.filter_stage import RM_FILTER_STAGE, RMFilterParams
    from zhinao.tasks.reward.scorer import RewardScorer

    store = open_store()
    _tiny_reward_model(tmp_path / "rm", smollm2)
    store.import_model("reward-model", tmp_path / "rm", stage="test")
    rows = []
    for domain, answer in (("geography", "Paris is the capital of France."), ("math", "Add the numbers: 3 + 4 = 7.")):
        for k in range(5):
            rows.append({"id": f"{domain}-{k}", "domain": domain, "messages": [
                {"role": "system", "content": "You are helpful."}, {"role": "user", "content": f"Question {k}?"},
                {"role": "assistant", "content": answer if k < 4 else "zzz qqq zzz qqq"}]})
    rows.append({"id": "two-turns", "domain": "math", "messages": [
        {"role": "user", "content": "3 + 4?"}, {"role": "assistant", "content": "7"},
        {"role": "user", "content": "And 4 + 3?"}, {"role": "assistant", "content": "no no no no no"}]})
    chats = store.import_tables("sft-data", [pa.Table.from_pylist(rows)]).ref
    r = execute_stage(RM_FILTER_STAGE, RMFilterParams(use_ray=False, audit=True), inputs={"sft-data": chats})
    kept, dropped = store.open_arrow(r.ref).to_pylist(), store.open_arrow(r.audit_ref).to_pylist()
    assert len(kept) + len(dropped) == len(rows) and {"messages", "domain", "rm_score"} <= set(kept[0])
    # the scores are the reward model's on each whole conversation, and the rule is applied per domain
    expected = RewardScorer(str(tmp_path / "rm")).score_chats([row["messages"] for row in rows])
    by_id = {row["id"]: s for row, s in zip(rows, expected)}
    for domain in ("geography", "math"):
        scores = [by_id[x["id"]] for x in rows if x["domain"] == domain]
        mean = sum(scores) / len(scores)
        limit = mean - (sum((s - mean) ** 2 for s in scores) / len(scores)) ** 0.5
        below = {x["id"] for x in rows if x["domain"] == domain and by_id[x["id"]] < limit}
        assert below and {d["id"] for d in dropped if d["domain"] == domain} == below
    assert all(x["rm_score"] == pytest.approx(by_id[x["id"]], abs=1e-4) for x in kept + dropped)


def test_rm_filter_names_conversations_without_a_final_assistant_turn(smollm2, tmp_path):
    from zhinao.tasks.reward.filter_stage import RM_FILTER_STAGE, RMFilterParams

    store = open_store()
    _tiny_reward_model(tmp_path / "rm", smollm2)
    store.import_model("reward-model", tmp_path / "rm", stage="test")
    rows = [{"id": "a", "domain": "x", "messages": [{"role": "user", "content": "hi"}]}]
    chats = store.import_tables("sft-data", [pa.Table.from_pylist(rows)]).ref
    with pytest.raises(Exception, match="assistant turn"):
        execute_stage(RM_FILTER_STAGE, RMFilterParams(use_ray=False), inputs={"sft-data": chats})
