"""Preference pairs and the Bradley-Terry reward model: generated pairs carry the signal they claim
(checked independently of the generator: the arithmetic of the worked answers, the IFEval checkers),
user files in the common layouts parse and their bad rows are counted drops, the BT loss and the
score head on controlled cases, and the reward-model stage end to end on the tiny pretrained model
(validation accuracy well above chance, RewardScorer reproducing its validation margins), plus a
two-rank ZeRO-3 run killed mid-way that resumes from its checkpoint."""
import gzip
import json
import math
import os
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from transformers import AutoConfig

from zhinao.tasks.reward.preference_stage import PREFERENCE_DATA, PreferenceDataParams
from zhinao.tasks.reward.model_stage import REWARD_MODEL, RewardModelParams
from zhinao.flows.stage import execute_stage
from zhinao.model.launch import TrainingFailed
from zhinao.model.train import KILL_AT_STEP
from zhinao.tasks.eval.gsm8k import extract_strict
from zhinao.tasks.eval.ifeval import complies, follows
from zhinao.tasks.reward.bt import bt_loss, by_group, pair_loss, summary
from zhinao.tasks.reward.pair_data import collate
from zhinao.tasks.reward.pairs_ifeval import ifeval_items, ifeval_pairs, verdict
from zhinao.tasks.reward.pairs_math import CORRUPTIONS, math_pairs
from zhinao.tasks.reward.scorer import RewardScorer
from zhinao.tasks.home import open_store

_EQUATION = re.compile(r"(\d+) ([-+*/]) (\d+) = (-?\d+)")


def _work(solution: str) -> tuple[list[bool], int | None, str]:
    """Whether each equation of a worked answer holds, the result of the last one, the #### answer."""
    ops = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b}
    eqs = _EQUATION.findall(solution)
    return [ops[o](int(a), int(b)) == int(c) for a, o, b, c in eqs], int(eqs[-1][3]) if eqs else None, \
        extract_strict(solution)


def test_math_pairs_hold_a_correct_worked_answer_against_a_corrupted_one():
    made = list(math_pairs(40, ["en", "zh"], seed=3, corruptions=list(CORRUPTIONS)))
    kept = [r for r, why in made if why is None]
    assert len(kept) >= 38 and {r["lang"] for r in kept} == {"en", "zh"}
    assert {r["origin"] for r in kept} == {"pairs:math-final-answer", "pairs:math-arithmetic"}
    for r in kept:
        holds, last, answer = _work(r["chosen"])
        assert all(holds) and str(last) == answer, r["chosen"]            # every step right, answer = last result
        holds, last, answer = _work(r["rejected"])
        if r["origin"] == "pairs:math-final-answer":
            assert all(holds) and str(last) != answer, r["rejected"]      # the work is right, the answer is not
        else:
            assert not all(holds) and str(last) == answer, r["rejected"]  # a wrong step, carried to the answer
        assert extract_strict(r["chosen"]) != extract_strict(r["rejected"])
    again = [r for r, why in math_pairs(40, ["en", "zh"], seed=3, corruptions=list(CORRUPTIONS)) if why is None]
    other = [r for r, why in math_pairs(40, ["en", "zh"], seed=4, corruptions=list(CORRUPTIONS)) if why is None]
    assert again == kept and {r["id"] for r in other}.isdisjoint({r["id"] for r in kept})


def test_ifeval_pairs_follow_against_break_by_the_checkers():
    items = list(ifeval_items(120, ["en", "zh"], seed=1, max_constraints=2, max_chars={"en": 200, "zh": 70}))
    good = [it for it in items if verdict(it) is None]
    assert len(good) >= 100 and {it.record.lang for it in good} == {"en", "zh"}
    assert len({it.broken for it in good}) >= 14                           # most instruction types appear
    assert any(len(it.record.checkers) == 2 for it in good)
    for it in good:
        assert complies(it.record, it.chosen) and not complies(it.record, it.rejected)
        for iid, checker in zip(it.record.instruction_id_list, it.record.checkers):
            assert follows(checker, it.rejected) == (iid != it.broken)    # it breaks only the one it names
            assert checker.describe(it.record.lang) in it.record.prompt
    rows = [r for r, why in ifeval_pairs(120, ["en", "zh"], 1, 2, {"en": 200, "zh": 70}) if why is None]
    assert [r["chosen"] for r in rows] == [it.chosen for it in good]
    assert all(r["origin"] == f"pairs:ifeval:{it.broken}" and r["category"] == "ifeval" for r, it in zip(rows, good))


def _jsonl(path, rows) -> str:
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for row in rows:
            fh.write((row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)) + "\n")
    return str(path)


def _turns(*pairs):
    return [{"role": r, "content": c} for r, c in pairs]


def test_user_files_in_the_common_layouts_and_bad_rows_counted(tmp_path):
    good = [
        {"prompt": "What is 2 + 2?", "chosen": "4", "rejected": "5", "category": "arith"},
        {"chosen": "\n\nHuman: Hi there\n\nAssistant: Hello! How can I help?",                  # HH-RLHF
         "rejected": "\n\nHuman: Hi there\n\nAssistant: Go away."},
        {"chosen": "\n\nHuman: A cat?\n\nAssistant: An animal.\n\nHuman: And a dog?\n\nAssistant: Also one.",
         "rejected": "\n\nHuman: A cat?\n\nAssistant: An animal.\n\nHuman: And a dog?\n\nAssistant: A car."},
        {"chosen": _turns(("user", "Name a colour"), ("assistant", "Blue")),                  # chat pairs
         "rejected": _turns(("user", "Name a colour"), ("assistant", "Seven"))},
        {"prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "说一种水果"}],
         "chosen": [{"role": "assistant", "content": "苹果"}], "rejected": [{"role": "assistant", "content": "汽车"}]},
    ]
    bad = {
        "not json at all": "bad_json",
        json.dumps([1, 2]): "bad_json",
        json.dumps({"prompt": "p", "chosen": "c"}): "missing_field:rejected",
        json.dumps({"prompt": "p", "chosen": "same", "rejected": " same"}): "identical_pair",
        json.dumps({"prompt": "p", "chosen": "a", "rejected": ""}): "empty_response",
        json.dumps({"prompt": "p", "chosen": 5, "rejected": "x"}): "wrong_type:chosen",
        json.dumps({"chosen": _turns(("user", "x"), ("assistant", "y")),
                    "rejected": _turns(("user", "z"), ("assistant", "w"))}): "prompt_mismatch",
        json.dumps({"chosen": _turns(("user", "x")), "rejected": _turns(("user", "x"))}): "no_assistant_turn",
        json.dumps({"chosen": [{"role": "robot", "content": "x"}], "rejected": [{"role": "user"}]}): "bad_messages",
        json.dumps({"chosen": "no turns here", "rejected": "none"}): "no_turns",
    }
    jsonl = _jsonl(tmp_path / "mixed.jsonl.gz", good + list(bad))
    ultra = tmp_path / "ultrafeedback.parquet"          # UltraFeedback-binarized: prompt text + message lists
    pq.write_table(pa.Table.from_pylist([
        {"prompt": "Name a fruit", "chosen": _turns(("user", "Name a fruit"), ("assistant", "An apple.")),
         "rejected": _turns(("user", "Name a fruit"), ("assistant", "A car.")), "score_chosen": 8.0,
         "score_rejected": 3.0},
        {"prompt": "Name a tree", "chosen": _turns(("user", "Name a tree"), ("assistant", "A rock.")),
         "rejected": _turns(("user", "Name a tree"), ("assistant", "An oak.")), "score_chosen": 2.0,
         "score_rejected": 9.0}]), ultra)
    r = execute_stage(PREFERENCE_DATA, PreferenceDataParams(sources=[], files=[jsonl, str(ultra)], use_ray=False,
                                                            audit=True))
    store = open_store()
    rows = {x["chosen"]: x for x in store.open_arrow(r.ref).to_pylist()}
    assert len(rows) == 6
    assert rows["4"]["prompt"] == "What is 2 + 2?" and rows["4"]["category"] == "arith" and rows["4"]["lang"] == "en"
    assert rows["Hello! How can I help?"]["prompt"] == "Hi there" and rows["Hello! How can I help?"]["rejected"] == "Go away."
    assert rows["Also one."]["prompt"] == "User: A cat?\n\nAssistant: An animal.\n\nUser: And a dog?"
    assert rows["Blue"]["prompt"] == "Name a colour" and rows["Blue"]["rejected"] == "Seven"
    assert rows["苹果"]["prompt"] == "Be brief.\n\n说一种水果" and rows["苹果"]["lang"] == "zh"
    assert rows["An apple."]["origin"] == "file:ultrafeedback.parquet" and rows["Blue"]["origin"] == "file:mixed.jsonl.gz"
    expected = {}
    for reason in list(bad.values()) + ["scores_not_ranked"]:
        expected[reason] = expected.get(reason, 0) + 1
    assert r.stats["dropped"] == expected
    audit = store.open_arrow(r.audit_ref).to_pylist()
    assert sorted(a["drop_reason"] for a in audit) == sorted([*bad.values(), "scores_not_ranked"])
    with pytest.raises(ValueError, match="must be .jsonl"):
        (tmp_path / "x.warc").write_text("")
        execute_stage(PREFERENCE_DATA, PreferenceDataParams(sources=[], files=[str(tmp_path / "x.warc")], use_ray=False))
    with pytest.raises(ValueError, match="unknown source"):
        PreferenceDataParams(sources=["math", "poetry"])


def test_judge_ranked_pairs_take_the_best_over_the_worst_item_of_a_source():
    store = open_store()
    item = lambda i, kind, src, mean: {"id": i, "kind": kind, "prompt": f"prompt {i}", "response": f"answer {i}",  # noqa: E731
                                       "synth_from": src, "judge_mean": mean, "lang": "en"}
    judged = store.import_tables("judge", [pa.Table.from_pylist([
        item("a1", "math", "doc1", 8.0), item("a2", "math", "doc1", 5.0), item("a3", "math", "doc1", 3.0),
        item("b1", "code", "doc1", 9.0),                                         # alone in its kind: no pair
        item("c1", "code", "doc2", 6.0), item("c2", "code", "doc2", 5.5),       # too close to call
        item("d1", "math", "doc3", None)])]).ref
    r = execute_stage(PREFERENCE_DATA, PreferenceDataParams(sources=["judge"], use_ray=False),
                      inputs={"judge": judged})
    rows = store.open_arrow(r.ref).to_pylist()
    assert [(x["prompt"], x["chosen"], x["rejected"], x["category"], x["origin"]) for x in rows] == [
        ("prompt a1", "answer a1", "answer a3", "judge", "judge")]
    assert r.stats["dropped"] == {"judge_gap_too_small": 1, "judge_unscored": 1}
    assert judged in store.resolve(r.ref).parents


def test_bt_loss_accuracy_and_the_score_head_on_controlled_cases():
    rc = torch.tensor([2.0, 0.0, -1.0], requires_grad=True)
    rr = torch.tensor([0.0, 0.0, 1.0])
    loss = bt_loss(rc, rr)
    want = sum(-math.log(1 / (1 + math.exp(-m))) for m in (2.0, 0.0, -2.0)) / 3
    assert loss.item() == pytest.approx(want, rel=1e-6)
    loss.backward()
    assert (rc.grad < 0).all()                          # descending the loss raises every chosen reward
    s = summary([1.0, -1.0, 0.0, 2.0])                  # a tie is no win
    assert s["accuracy"] == 0.5 and s["mean_margin"] == 0.5
    assert s["loss"] == pytest.approx(sum(pair_loss(m) for m in (1.0, -1.0, 0.0, 2.0)) / 4)
    assert pair_loss(200.0) == pytest.approx(0.0, abs=1e-12) and pair_loss(-200.0) == 200.0
    assert [(g["category"], g["accuracy"]) for g in by_group(
        [{"category": "a", "margin": 1}, {"category": "b", "margin": -1}, {"category": "a", "margin": 2}],
        "category")] == [("a", 1.0), ("b", 0.0)]

    # a tiny Llama reward model learns a controlled preference (token 7 over token 8) through bt_loss
    # and collate, and the score head reads each sequence's last non-pad token whatever the padding
    from transformers import LlamaConfig, LlamaForSequenceClassification

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=32, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, num_labels=1, pad_token_id=0, max_position_embeddings=64)
    model = LlamaForSequenceClassification(cfg)
    gen = torch.Generator().manual_seed(1)

    def pairs(n):
        out = []
        for _ in range(n):
            body = torch.randint(10, 32, (int(torch.randint(3, 12, (1,), generator=gen)),), generator=gen).tolist()
            at = int(torch.randint(0, len(body), (1,), generator=gen))
            out.append((body[:at] + [7] + body[at:], body[:at] + [8] + body[at:]))
        return out

    def margins(batch):
        ids, mask = collate([c for c, _ in batch] + [r for _, r in batch], 0)
        scores = model(input_ids=ids, attention_mask=mask).logits[:, 0]
        return scores[:len(batch)], scores[len(batch):]

    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(60):
        loss = bt_loss(*margins(pairs(16)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        held = pairs(64)
        c, r = margins(held)
        assert summary((c - r).tolist())["accuracy"] >= 0.95
        short, long = held[0][0][:3], held[1][0]
        alone = model(input_ids=torch.tensor([short])).logits[0, 0]
        ids, mask = collate([long, short], 0)
        assert model(input_ids=ids, attention_mask=mask).logits[1, 0] == pytest.approx(alone.item(), abs=1e-5)


def test_reward_model_stage_on_the_default_preference_set(trained_reward_model, monkeypatch):
    rm = trained_reward_model
    monkeypatch.setenv("ZHINAO_HOME", str(rm.home))
    store = open_store()
    table = {row["category"]: row for row in rm.stats["tables"]["validation"]}
    overall = table["(all)"]
    assert overall["accuracy"] >= 0.6, rm.stats["tables"]["validation"]      # chance: 0.5 (+-0.05 at 100 pairs)
    assert table["ifeval"]["accuracy"] >= 0.6 and overall["mean_margin"] > 0
    assert table["ifeval"]["pairs"] + table["math"]["pairs"] == overall["pairs"] == rm.stats["counters"]["valid_pairs"]
    assert {p["plot"] for p in rm.stats["tables"]["plots"]} == {"loss curve (train, validation; LR dashed)",
                                                                "validation margins by category"}
    assert all(os.path.exists(p["path"]) for p in rm.stats["tables"]["plots"])
    assert set(store.resolve(rm.ref).parents) == {rm.pairs, rm.base}

    config = json.loads((rm.folder / "config.json").read_text())
    tok_config = json.loads((rm.folder / "tokenizer_config.json").read_text())
    assert config["architectures"] == ["LlamaForSequenceClassification"]
    assert AutoConfig.from_pretrained(rm.folder).num_labels == 1        # transformers 5 writes id2label only
    assert config["pad_token_id"] == tok_config["pad_token_id"] is not None
    # the scorer rm-score and rm-filter use reads the version as training read its pairs: same margins
    scorer = RewardScorer(str(rm.folder), device="cpu", max_length=256)
    pairs = {p["id"]: p for p in store.open_arrow(rm.pairs).to_pylist()}
    valid = [json.loads(x) for x in (rm.folder / "validation.jsonl").read_text().splitlines()]
    sample = valid[:24]
    prompts = [pairs[v["id"]]["prompt"] for v in sample]
    chosen = scorer.score(prompts, [pairs[v["id"]]["chosen"] for v in sample], batch_size=8)
    rejected = scorer.score(prompts, [pairs[v["id"]]["rejected"] for v in sample], batch_size=8)
    assert [c - r for c, r in zip(chosen, rejected)] == pytest.approx([v["margin"] for v in sample], abs=2e-3)
    assert execute_stage(REWARD_MODEL, RewardModelParams()).cache_hit
    assert execute_stage(REWARD_MODEL, RewardModelParams(model=rm.base)).ref == rm.ref   # the base pinned by its ref


def test_bad_inputs_fail_with_what_is_wrong(tiny_pretrained):
    store = open_store()
    store.import_model("pretrain-stage2", tiny_pretrained, stage="test")
    docs = store.import_tables("docs", [pa.table({"id": ["a"], "text": ["x"]})]).ref
    with pytest.raises(ValueError, match=r"not a preference dataset: it lacks \['prompt', 'chosen', 'rejected'\]"):
        execute_stage(REWARD_MODEL, RewardModelParams(), inputs={"preference-data": docs})
    pairs = store.import_tables("preference-data", [pa.table({
        "id": ["a", "b"], "prompt": ["p", "q"], "chosen": ["x " * 400, "y"], "rejected": ["z", "y"]})]).ref
    with pytest.raises(ValueError, match=r"0 training and 0 validation pairs after \{'too_long': 1, 'identical_pair': 1\}"):
        execute_stage(REWARD_MODEL, RewardModelParams(), inputs={"preference-data": pairs})
    with pytest.raises(Exception, match="neither"):
        execute_stage(REWARD_MODEL, RewardModelParams(model="no-such-model"), inputs={"preference-data": pairs})
    with pytest.raises(ValueError, match="offload_params needs zero_stage 3"):
        execute_stage(REWARD_MODEL, RewardModelParams(offload_params=True), inputs={"preference-data": pairs})


def test_zero3_two_ranks_killed_mid_run_resume_from_the_checkpoint(tiny_pretrained, monkeypatch):
    store = open_store()
    store.import_model("pretrain-stage2", tiny_pretrained, stage="test")
    execute_stage(PREFERENCE_DATA, PreferenceDataParams(math_pairs=8, ifeval_pairs=24, use_ray=False))
    params = RewardModelParams(zero_stage=3, world_size=2, steps=4, micro_batch=4, checkpoint_every=2, warmup_steps=1,
                               valid_fraction=0.3)
    monkeypatch.setenv(KILL_AT_STEP, "2")
    with pytest.raises(TrainingFailed, match="killed by SIGKILL"):
        execute_stage(REWARD_MODEL, params)
    monkeypatch.delenv(KILL_AT_STEP)
    r = execute_stage(REWARD_MODEL, params)
    folder = store.model_path(r.ref)
    state = json.loads((folder / "trainer_state.json").read_text())
    assert state["resumed_from_step"] == 2 and state["world_size"] == 2 and state["zero_stage"] == 3
    steps = [json.loads(x)["step"] for x in (folder / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]
    valid = [json.loads(x) for x in (folder / "validation.jsonl").read_text().splitlines()]
    assert len(valid) == state["valid_pairs"] > 0          # both ranks' shares of the held-out pairs
    pairs = {p["id"]: p for p in store.open_arrow("preference-data").to_pylist()}
    scorer = RewardScorer(str(folder), device="cpu", max_length=256)   # the gathered ZeRO-3 weights
    v = valid[0]
    got = scorer.score([pairs[v["id"]]["prompt"]] * 2, [pairs[v["id"]]["chosen"], pairs[v["id"]]["rejected"]])
    assert got[0] - got[1] == pytest.approx(v["margin"], abs=2e-3)
