"""The alignment methods, one entry each: the rows a method trains on, its TRL trainer (built inside
the rank, so the driver never imports TRL), its default loss, and the curves its report draws beside
the loss. Adding a method is one entry here (and its trainer function)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def assistant(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def pair_rows(rows: list[dict]) -> tuple[list[dict], dict[str, int]]:
    """TRL's conversational preference rows; pairs with an empty side are dropped, counted."""
    out, dropped = [], {}
    for r in rows:
        if not (r["prompt"] or "").strip() or not (r["chosen"] or "").strip() or not (r["rejected"] or "").strip():
            dropped["empty_side"] = dropped.get("empty_side", 0) + 1
        elif r["chosen"] == r["rejected"]:
            dropped["chosen_equals_rejected"] = dropped.get("chosen_equals_rejected", 0) + 1
        else:
            out.append({"prompt": user(r["prompt"]), "chosen": assistant(r["chosen"]),
                        "rejected": assistant(r["rejected"])})
    return out, dropped


def prompt_rows(rows: list[dict]) -> tuple[list[dict], dict[str, int]]:
    """Each distinct prompt once (first seen), with its verify facts."""
    seen, out, dropped = set(), [], {}
    for r in rows:
        p = (r["prompt"] or "").strip()
        if not p:
            dropped["empty_prompt"] = dropped.get("empty_prompt", 0) + 1
        elif p not in seen:
            seen.add(p)
            out.append({"prompt": user(r["prompt"]), "verify": r.get("verify") or ""})
    return out, dropped


@dataclass(frozen=True)
class Curve:
    column: str            # a metrics column (TRL's name, '/' as '_')
    label: str
    right: bool = False    # on a second axis (a share beside a margin)


@dataclass(frozen=True)
class Method:
    name: str
    columns: tuple[str, ...]                                  # what it reads of the data version
    rows: Callable[[list[dict]], tuple[list[dict], dict[str, int]]]
    trainer: str           # "module:function" (spec, tokenizer, dataset, callbacks, reward_funcs) -> trainer
    loss_type: str         # TRL's loss unless the params name one
    samples: bool          # draws num_generations answers per prompt and rewards them (RL)
    title: str             # what its plot shows
    ylabel: str
    curves: tuple[Curve, ...]


_SAMPLED = Curve("reward", "sampled answers")
METHODS = {m.name: m for m in (
    Method("dpo", ("prompt", "chosen", "rejected"), pair_rows, "zhinao.tasks.align.rank:dpo_trainer", "sigmoid",
           False, "DPO reward margin (chosen - rejected) and pair accuracy", "implicit reward margin",
           (Curve("rewards_margins", "margin"), Curve("rewards_accuracies", "accuracy (dashed)", right=True))),
    Method("grpo", ("prompt", "verify"), prompt_rows, "zhinao.tasks.align.rank:grpo_trainer", "grpo", True,
           "grpo mean reward of the sampled answers", "reward", (_SAMPLED,)),
    Method("remax", ("prompt", "verify"), prompt_rows, "zhinao.tasks.align.rank:remax_trainer", "grpo", True,
           "remax mean reward of the sampled answers and of the greedy baseline", "reward",
           (_SAMPLED, Curve("remax_greedy_reward", "greedy (baseline)"))),
)}


def method(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"alignment method {name!r}: one of {', '.join(METHODS)}")
    return METHODS[name]
