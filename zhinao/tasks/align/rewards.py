"""Rewards for RL (GRPO, ReMax) in TRL's reward-function form: f(prompts, completions, **columns)
-> one float (or None: not scorable by this function) per completion.

- `reward_model`: a Bradley-Terry reward model version scores the conversation (prompt + answer)
  through its chat template, as rm-score does (tasks/reward/scorer.RewardScorer).
- `math`: 1 when GSM8K's strict extraction of the answer (`#### N`) equals the row's answer, else 0.
- `ifeval`: the fraction of the row's IFEval instructions the answer follows (strict checkers).
The row's `verify` column (preference-data's JSON: {"answer"} or {"instruction_id_list", "kwargs"})
says which verifiable check applies; a function that does not apply to a row returns None, which
TRL leaves out of that row's weighted sum."""
from __future__ import annotations

import json
from typing import Any

from ..eval.gsm8k import MathItem, verdicts
from ..eval.ifeval import parse_record
from ..eval.ifeval import reward as ifeval_reward

SOURCES = ("reward_model", "math", "ifeval")


def answer_text(completion: Any) -> str:
    """The text of a completion: a string, or TRL's conversational [{"role": "assistant", ...}]."""
    if isinstance(completion, list):
        return "".join(m.get("content", "") for m in completion if m.get("role", "assistant") == "assistant")
    return str(completion)


def prompt_messages(prompt: Any) -> list[dict]:
    return prompt if isinstance(prompt, list) else [{"role": "user", "content": str(prompt)}]


def _verify(value: Any) -> dict:
    if isinstance(value, dict):
        return value
    return json.loads(value) if value else {}


def math_reward(prompts, completions, verify=None, **_) -> list[float | None]:
    out: list[float | None] = []
    for k, c in enumerate(completions):
        facts = _verify(verify[k]) if verify else {}
        if "answer" not in facts:
            out.append(None)
            continue
        item = MathItem(k, "", "", str(facts["answer"]))
        out.append(1.0 if verdicts(item, answer_text(c))["strict_match"] else 0.0)
    return out


def ifeval_reward_fn(prompts, completions, verify=None, **_) -> list[float | None]:
    out: list[float | None] = []
    for k, (p, c) in enumerate(zip(prompts, completions)):
        facts = _verify(verify[k]) if verify else {}
        if not facts.get("instruction_id_list"):
            out.append(None)
            continue
        record = parse_record({"key": k, "prompt": prompt_messages(p)[-1]["content"],
                               "instruction_id_list": facts["instruction_id_list"], "kwargs": facts["kwargs"]})
        out.append(ifeval_reward(record, answer_text(c)))
    return out


class RewardModelReward:
    """The reward model's score of each (prompt, answer) conversation."""

    def __init__(self, folder: str, batch_size: int = 16, max_length: int = 1024):
        from ..reward.scorer import RewardScorer

        self.scorer = RewardScorer(folder, device="auto", max_length=max_length)
        self.batch_size = batch_size
        self.__name__ = "reward_model"

    def __call__(self, prompts, completions, **_) -> list[float]:
        chats = [prompt_messages(p) + [{"role": "assistant", "content": answer_text(c)}]
                 for p, c in zip(prompts, completions)]
        return self.scorer.score_chats(chats, self.batch_size)


def reward_functions(weights: dict[str, float], reward_model: str | None) -> tuple[list, list[float]]:
    """(TRL reward functions, their weights) for the sources with a non-zero weight."""
    unknown = set(weights) - set(SOURCES)
    if unknown:
        raise ValueError(f"unknown reward source(s) {sorted(unknown)}; choose from {list(SOURCES)}")
    funcs, ws = [], []
    for name in SOURCES:
        w = weights.get(name, 0.0)
        if not w:
            continue
        if name == "reward_model":
            if not reward_model:
                raise ValueError("a reward_model weight needs a reward model (a reward-model version or folder)")
            funcs.append(RewardModelReward(reward_model))
        else:
            fn = math_reward if name == "math" else ifeval_reward_fn
            funcs.append(fn)
        ws.append(float(w))
    if not funcs:
        raise ValueError("no reward: give at least one source a non-zero weight "
                         f"({', '.join(SOURCES)})")
    return funcs, ws
