"""Alignment trainers (DPO, GRPO, ReMax through TRL) on the tiny pretrained model: each method does
its job on a controlled case, each resumes after SIGKILL with the same losses and rollouts, and the
stages make model versions with lineage. Rewards: the verifiable checks on known answers."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from zhinao.model.train import KILL_AT_STEP
from zhinao.tasks.align.rewards import ifeval_reward_fn, math_reward, reward_functions
from zhinao.tasks.align.methods import assistant, pair_rows, prompt_rows, user
from zhinao.tasks.align.spec import RANK_MODULE, AlignSpec
from tests.test_merge import weights

ROOT = Path(__file__).resolve().parents[1]
IFEVAL = json.dumps({"instruction_id_list": ["punctuation:no_comma", "change_case:english_lowercase"],
                     "kwargs": [{}, {}]})


def test_verifiable_rewards_score_what_applies_and_skip_the_rest():
    prompts = [user("What is 2 + 3?")] * 3
    completions = [assistant("2 + 3 = 5\n#### 5"), assistant("#### 6"), assistant("five")]
    verify = [json.dumps({"answer": "5"})] * 2 + [""]
    assert math_reward(prompts, completions, verify=verify) == [1.0, 0.0, None]
    got = ifeval_reward_fn([user("Write about cats.")] * 3,
                           [assistant("cats are soft"), assistant("Cats, dogs"), assistant("x")],
                           verify=[IFEVAL, IFEVAL, json.dumps({"answer": "1"})])
    assert got == [1.0, 0.0, None]
    with pytest.raises(ValueError, match="needs a reward model"):
        reward_functions({"reward_model": 1.0}, None)
    with pytest.raises(ValueError, match="unknown reward source"):
        reward_functions({"length": 1.0}, None)
    with pytest.raises(ValueError, match="no reward"):
        reward_functions({"math": 0.0}, None)


def test_rows_in_trl_form_drop_what_cannot_train():
    rows = [{"prompt": "p", "chosen": "a", "rejected": "b"}, {"prompt": "p", "chosen": "a", "rejected": "a"},
            {"prompt": " ", "chosen": "a", "rejected": "b"}]
    made, dropped = pair_rows(rows)
    assert made == [{"prompt": user("p"), "chosen": assistant("a"), "rejected": assistant("b")}]
    assert dropped == {"chosen_equals_rejected": 1, "empty_side": 1}
    made, dropped = prompt_rows([r | {"verify": "v"} for r in rows])
    assert made == [{"prompt": user("p"), "verify": "v"}] and dropped == {"empty_prompt": 1}


def _logprob(model, tok, prompt: list[dict], answer: str) -> float:
    """log p(answer | prompt) under the chat template, as TRL scores it."""
    ctx = tok.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    full = tok.apply_chat_template(prompt + assistant(answer), tokenize=False)
    a, b = tok(ctx, add_special_tokens=False)["input_ids"], tok(full, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([b])
    with torch.no_grad():
        lp = model(ids).logits[0, :-1].log_softmax(-1)
    return float(sum(lp[i - 1, b[i]] for i in range(len(a), len(b))))


def _spec(method: str, model: Path, data: Path, work: Path, **kw) -> AlignSpec:
    base = dict(steps=6, batch_size=4, lr=1e-3, checkpoint_every=2, seed=0, max_length=128,
                num_generations=4, max_completion_length=8, beta=0.1 if method == "dpo" else 0.0)
    return AlignSpec(method=method, model=str(model), data=str(data), out=str(work / "out"),
                     checkpoints=str(work / "ckpt"), **base | kw)


PAIRS = [{"prompt": user(f"Name a colour, please ({i})."), "chosen": assistant("The sky is blue."),
          "rejected": assistant("I do not know any colours at all.")} for i in range(8)]


def test_dpo_raises_the_chosen_over_rejected_log_ratio(tiny_pretrained, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from zhinao.tasks.align.rank import build_trainer

    data = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist(PAIRS), data)
    trainer = build_trainer(_spec("dpo", tiny_pretrained, data, tmp_path), PAIRS, [])
    trainer.train()
    tok = AutoTokenizer.from_pretrained(tiny_pretrained)
    ref = AutoModelForCausalLM.from_pretrained(tiny_pretrained).eval()
    policy = trainer.model.eval()
    for row in PAIRS[:3]:
        ratio = {side: _logprob(policy, tok, row["prompt"], row[side][0]["content"])
                 - _logprob(ref, tok, row["prompt"], row[side][0]["content"]) for side in ("chosen", "rejected")}
        assert ratio["chosen"] - ratio["rejected"] > 0.5, ratio


def rl_effect(method: str, tiny_pretrained: Path, work: Path, seed: int = 0, steps: int = 32,
              lr: float = 1e-4, blind: bool = False) -> tuple[float, float]:
    """The rewarded set's first-token mass before and after `steps` of RL. The reward is 1 for
    answers whose first token is in a set S, else 0: S is the starting model's likeliest first
    tokens (about 30% of the mass) leaving out each prompt's greedy one, so ReMax's baseline (the
    greedy answer's reward) is 0 and every rewarded sample is pushed up, none down."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from zhinao.tasks.align.rank import build_trainer

    tok = AutoTokenizer.from_pretrained(tiny_pretrained)
    rows = [{"prompt": user(f"Tell me about item {i}."), "verify": ""} for i in range(8)]

    def first_token_probs(model) -> torch.Tensor:     # (prompts, vocab)
        ids = [tok.apply_chat_template(r["prompt"], add_generation_prompt=True, tokenize=True, return_dict=False)
               for r in rows]
        with torch.no_grad():
            return torch.stack([model(torch.tensor([x])).logits[0, -1].softmax(-1) for x in ids])

    start = first_token_probs(AutoModelForCausalLM.from_pretrained(tiny_pretrained).eval())
    greedy, mean = set(start.argmax(-1).tolist()), start.mean(0)
    rewarded, mass = [], 0.0
    for t in mean.argsort(descending=True).tolist():
        if mass >= 0.3:
            break
        if t not in greedy:
            rewarded.append(t)
            mass += float(mean[t])
    members = set(rewarded)

    def prefers(prompts, completions, completion_ids, **_):
        if blind:       # the control: a reward that ignores the answer (a fair coin per answer)
            return [float(hash((seed, tuple(ids))) & 1) for ids in completion_ids]
        return [1.0 if ids and ids[0] in members else 0.0 for ids in completion_ids]

    prefers.__name__ = "prefers"
    work.mkdir(parents=True, exist_ok=True)
    data = work / "rows.parquet"
    pq.write_table(pa.Table.from_pylist(rows), data)
    spec = _spec(method, tiny_pretrained, data, work, steps=steps, batch_size=16, lr=lr, temperature=1.0, seed=seed)
    trainer = build_trainer(spec, rows, [], reward_funcs=[prefers])
    trainer.train()
    return mass, float(first_token_probs(trainer.model.eval()).mean(0)[rewarded].sum())


SEEDS = (0, 1, 2, 3)


@pytest.mark.parametrize("method", ["grpo", "remax"])
def test_rl_raises_the_probability_of_the_rewarded_answers(method, tiny_pretrained, tmp_path):
    """Judged over four sampling paths (seeds), in small steps (lr 1e-4, 32 steps), not on one run:
    one run's outcome depends on the answers it happened to sample, and so on the CPU. With a reward
    that ignores the answer (`rl_effect(..., blind=True)`, the control), the rewarded mass moved by
    0.95-1.27x (ReMax) and 0.99-1.07x (GRPO) per seed, 1.07x and 1.04x on average; with the real
    reward it rose 1.25-1.40x (mean 1.33x) and 1.16-1.29x (mean 1.24x). The bar, a 1.15x mean rise
    with no seed falling, lies above where the blind runs averaged and below every real run's mean."""
    ratios = [after / mass for mass, after in (rl_effect(method, tiny_pretrained, tmp_path / str(seed), seed=seed)
                                               for seed in SEEDS)]
    assert min(ratios) > 1.0 and sum(ratios) / len(ratios) > 1.15, ratios


def _rank(spec: AlignSpec, kill_at: int | None = None) -> subprocess.CompletedProcess:
    Path(spec.checkpoints).mkdir(parents=True, exist_ok=True)
    path = spec.save(Path(spec.checkpoints) / "spec.json")
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    env.pop(KILL_AT_STEP, None)
    if kill_at:
        env[KILL_AT_STEP] = str(kill_at)
    return subprocess.run([sys.executable, "-m", RANK_MODULE, str(path)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)


def _lines(spec: AlignSpec) -> list[dict]:
    return [json.loads(x) for x in (Path(spec.out) / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("method", ["dpo", "dpo-lora", "grpo", "remax"])
def test_killed_run_resumes_with_the_same_losses_and_rollouts(method, tiny_pretrained, tmp_path):
    lora = {"lora": {"r": 4, "alpha": 8, "dropout": 0.0}} if method == "dpo-lora" else {}
    method = method.split("-")[0]
    if method == "dpo":
        rows = PAIRS + [{"prompt": user(f"Say hello ({i})."), "chosen": assistant("hello there"),
                         "rejected": assistant("Goodbye, then.")} for i in range(8)]
    else:   # rewards that differ between sampled answers: IFEval checkers on lowercase and commas
        rows = [{"prompt": user(f"Describe item {i} briefly."), "verify": IFEVAL} for i in range(8)]
    data = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist(rows), data)
    kw = {"steps": 4} | (lora if method == "dpo" else {"rewards": {"ifeval": 1.0}, "batch_size": 8})
    whole = _spec(method, tiny_pretrained, data, tmp_path / "whole", **kw)
    killed = _spec(method, tiny_pretrained, data, tmp_path / "killed", **kw)
    assert _rank(whole).returncode == 0
    first = _rank(killed, kill_at=3)
    assert first.returncode == -9, first.stderr[-2000:]
    assert not Path(killed.out).exists()                 # nothing finished, only checkpoint-2 kept
    second = _rank(killed)
    assert second.returncode == 0, second.stderr[-2000:]
    state = json.loads((Path(killed.out) / "trainer_state.json").read_text())
    assert state["resumed_from_step"] == 2
    a, b = _lines(whole), _lines(killed)
    assert [r["step"] for r in b] == list(range(1, 5))
    assert not list(Path(killed.checkpoints).glob("checkpoint-4"))   # the last step: the final model only
    keys = ["loss", "grad_norm"] + (["rewards_margins"] if method == "dpo" else ["reward", "reward_std"])
    for ra, rb in zip(a, b):
        for k in keys:
            assert ra[k] == pytest.approx(rb[k], rel=1e-5, abs=1e-7), (ra["step"], k)
    if method != "dpo":
        assert len({r["reward"] for r in a}) > 1          # the rollouts differ between steps: a real check
    if lora:
        assert (Path(killed.out) / "adapter_model.safetensors").is_file()


def test_alignment_pipeline_merges_the_routes_evaluates_all_and_picks_a_chat_model(
        tiny_pretrained, trained_reward_model, prefect_harness):
    """sft -> grpo, dpo-iterative (one round), dpo-lora -> interpolate -> extrapolate 0.2 -> evaluate
    all six -> comparison -> chat-model: each step a version whose lineage reaches sft, the reward
    model and the preference data."""
    from zhinao.tasks.align.stage import DPOLoraParams, DPOParams, GRPOParams
    from zhinao.flows.align_pipeline import AlignPipelineParams, align
    from zhinao.flows.dpo_iterative import DPOIterativeParams
    from zhinao.tasks.align.pairs_stage import DPOPairsParams
    from zhinao.tasks.eval.stage import EvalParams
    from zhinao.tasks.reward.preference_stage import PREFERENCE_DATA, PreferenceDataParams
    from zhinao.flows.stage import execute_stage
    from zhinao.tasks.home import open_store

    store = open_store()
    sft = store.import_model("sft", tiny_pretrained, stage="test").ref
    rm = store.import_model("reward-model", trained_reward_model.folder, stage="test").ref
    pairs = execute_stage(PREFERENCE_DATA, PreferenceDataParams(math_pairs=4, ifeval_pairs=8, use_ray=False)).ref
    small = dict(steps=2, batch_size=4, use_ray=False)
    params = AlignPipelineParams(
        grpo=GRPOParams(**small, max_completion_length=8, rewards={"reward_model": 1.0, "ifeval": 1.0}),
        dpo_iterative=DPOIterativeParams(rounds=1, pairs=DPOPairsParams(n=2, prompts=4, max_tokens=12,
                                                                        backend="transformers", use_ray=False),
                                         dpo=DPOParams(**small)),
        dpo_lora=DPOLoraParams(**small, lora={"r": 4, "alpha": 8}, max_length=256),
        evaluation=EvalParams(tasks=["perplexity", "ifeval"], limit=4, max_tokens=16, backend="transformers",
                              use_ray=False),
        select_metric="perplexity", select_from=["v1", "chat"])
    results = align(params)
    by = {}
    for r in results:
        by.setdefault(r.stage, []).append(r)
    assert [len(by[s]) for s in ("grpo", "dpo-pairs", "dpo", "dpo-lora", "merge", "evaluate", "chat-model")] == \
        [1, 1, 1, 1, 2, 6, 1]
    v1, chat = (store.resolve(r.ref) for r in by["merge"])
    routes = {by[s][0].ref for s in ("grpo", "dpo", "dpo-lora")}
    assert set(v1.parents) == routes and chat.parents == [v1.ref, sft] and chat.params["alpha"] == 0.2
    picked = store.resolve(by["chat-model"][0].ref)        # a stage's version: cached, fingerprinted
    (choice,) = picked.stats["tables"]["choice"]
    assert picked.dataset == "chat-model" and picked.code and picked.parents[0] in {v1.ref, chat.ref}
    assert choice["chosen"] in ("v1", "chat") and choice["model"] == picked.parents[0]
    assert set(picked.parents[1:]) == {r.ref for r in by["evaluate"]}      # every candidate's evaluation
    assert sorted((s.path, s.bytes) for s in picked.shards) == \
        sorted((s.path, s.bytes) for s in store.resolve(choice["model"]).shards)
    rows = picked.stats["tables"]["comparison"]
    bpb = next(r for r in rows if r["task"] == "perplexity" and r["metric"] == "bits_per_byte")
    scores = {k.split(" (", 1)[0]: v for k, v in bpb.items() if " (" in k}
    assert set(scores) == {"sft", "grpo", "dpo-iterative", "dpo-lora", "v1", "chat"}
    assert choice["score"] == min(scores["v1"], scores["chat"])
    seen, todo = set(), [picked.ref]
    while todo:
        ref = todo.pop()
        seen.add(ref)
        todo += [p for p in store.resolve(ref).parents if p not in seen]
    assert {sft, rm, pairs} <= seen and routes <= seen


def test_dpo_lora_trains_an_adapter_per_set_and_merges_them(tiny_pretrained):
    from zhinao.tasks.align.stage import DPO_LORA, DPOLoraParams
    from zhinao.tasks.reward.preference_stage import PREFERENCE_DATA, PreferenceDataParams
    from zhinao.flows.stage import execute_stage
    from zhinao.tasks.align.rank import _model_kwargs
    from zhinao.tasks.home import open_store

    store = open_store()
    sft = store.import_model("sft", tiny_pretrained, stage="test").ref
    execute_stage(PREFERENCE_DATA, PreferenceDataParams(math_pairs=8, ifeval_pairs=8, use_ray=False))
    r = execute_stage(DPO_LORA, DPOLoraParams(steps=3, batch_size=4, lr=5e-3, lora={"r": 8, "alpha": 16},
                                              max_length=256, use_ray=False))
    folder = store.model_path(r.ref)
    sets = {row["set"]: row for row in r.stats["tables"]["adapters"]}
    assert set(sets) == {"en", "zh"} and all(row["pairs"] > 0 for row in sets.values())
    assert all((folder / "adapters" / s / "adapter_model.safetensors").is_file() for s in sets)
    assert sft in store.resolve(r.ref).parents
    merged, base = weights(folder), weights(tiny_pretrained)
    changed = [k for k in base if not torch.equal(merged[k], base[k])]
    assert changed and all("proj" in k for k in changed)          # only the adapted linear layers moved
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="QLoRA.*CUDA"):
            _model_kwargs(AlignSpec(method="dpo", model="-", data="-", out="-", checkpoints="-",
                                    lora={"r": 8, "alpha": 16}, quantize=True))


def test_iterative_dpo_rounds_sample_from_the_previous_round(tiny_pretrained, trained_reward_model,
                                                            prefect_harness):
    """Two rounds of dpo-pairs -> dpo: round 2 samples from round 1's model; every pair is the best
    and worst of its answers by the reward model, and the margin threshold drops what it should."""
    from zhinao.tasks.align.stage import DPOParams
    from zhinao.flows.dpo_iterative import DPOIterativeParams, dpo_iterative
    from zhinao.tasks.align.pairs_stage import DPO_PAIRS, DPOPairsParams
    from zhinao.tasks.reward.preference_stage import PREFERENCE_DATA, PreferenceDataParams
    from zhinao.flows.stage import execute_stage
    from zhinao.tasks.reward.scorer import RewardScorer
    from zhinao.tasks.home import open_store

    store = open_store()
    sft = store.import_model("sft", tiny_pretrained, stage="test").ref
    rm = store.import_model("reward-model", trained_reward_model.folder, stage="test").ref
    prompts = execute_stage(PREFERENCE_DATA, PreferenceDataParams(math_pairs=4, ifeval_pairs=4, use_ray=False)).ref
    pairs = DPOPairsParams(n=3, prompts=6, max_tokens=16, backend="transformers", use_ray=False)
    results = dpo_iterative(DPOIterativeParams(rounds=2, pairs=pairs, dpo=DPOParams(steps=2, batch_size=2,
                                                                                   use_ray=False)))
    p1, m1, p2, m2 = results
    assert [r.stage for r in results] == ["dpo-pairs", "dpo", "dpo-pairs", "dpo"]
    assert set(store.resolve(p1.ref).parents) == {prompts, sft, rm}
    assert set(store.resolve(p2.ref).parents) == {prompts, m1.ref, rm}      # round 2 samples from round 1
    assert set(store.resolve(m2.ref).parents) == {p2.ref, m1.ref}
    rows = store.open_arrow(p1.ref).to_pylist()
    assert rows and all(r["margin"] >= 0 and r["answers"] == 3 and r["origin"] == f"onpolicy:{sft}" for r in rows)
    scorer = RewardScorer(str(trained_reward_model.folder), device="cpu")
    got = scorer.score([r["prompt"] for r in rows] * 2, [r["chosen"] for r in rows] + [r["rejected"] for r in rows])
    assert got[:len(rows)] == pytest.approx([r["chosen_score"] for r in rows], abs=1e-4)
    assert got[len(rows):] == pytest.approx([r["rejected_score"] for r in rows], abs=1e-4)
    strict = execute_stage(DPO_PAIRS, pairs.model_copy(update={"min_margin": 1e6, "model": sft}))
    assert strict.rows == 0 and strict.stats["dropped"]["margin_below_threshold"] + \
        strict.stats["dropped"].get("identical_answers", 0) == 6 - strict.stats["dropped"].get(
            "fewer_than_two_answers", 0)


def test_the_chat_model_choice_follows_the_stated_metric():
    from zhinao.tasks.align.choose import choose, route_weights

    labels = ["sft (e@0)", "v1 (e@1)", "chat (e@2)"]
    rows = [{"task": "perplexity", "metric": "bits_per_byte", "sft (e@0)": 1.0, "v1 (e@1)": 2.5, "chat (e@2)": 2.4},
            {"task": "ifeval", "metric": "strict_prompt", "sft (e@0)": 0.9, "v1 (e@1)": 0.5, "chat (e@2)": 0.5}]
    assert choose(labels, rows, "perplexity", ["v1", "chat"]) == ("chat (e@2)", 2.4)   # lower is better
    assert choose(labels, rows, "ifeval", ["v1", "chat"]) == ("v1 (e@1)", 0.5)         # a tie: the first listed
    assert choose(labels, rows, "ifeval", ["sft", "chat"]) == ("sft (e@0)", 0.9)
    with pytest.raises(ValueError, match="was not evaluated"):
        choose(labels, rows, "mc", ["v1"])
    assert route_weights(["grpo", "dpo-lora"], {"dpo-lora": 3}) == [0.25, 0.75]
    with pytest.raises(ValueError, match="routes run are"):
        route_weights(["grpo"], {"remax": 1})
