"""Multiple choice by log-likelihood, zero- or few-shot, as lm-evaluation-harness's MMLU / CMMLU
tasks score it: the context is a subject header, k solved examples from the dev split (the first k,
lm-eval's first_n sampler) and the question with its lettered options; each choice is the
continuation " A" ... " D" (or " " + the option's text), and the prediction is the choice of
highest log-likelihood (`acc`) or of highest log-likelihood per character (`acc_norm`)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from .scoring import LoglikScorer
from .mc_data import LETTERS, MCItem

HEADERS = {"en": "The following are multiple choice questions (with answers) about {subject}.\n\n",
           "zh": "以下是关于{subject}的单项选择题，请直接给出正确答案的选项。\n\n"}
ANSWER = {"en": "Answer:", "zh": "答案："}


@dataclass(frozen=True)
class MCSetup:
    shots: int = 0
    lang: Literal["en", "zh"] = "en"
    choices: Literal["letters", "texts"] = "letters"


def question_text(item: MCItem, lang: str) -> str:
    options = "".join(f"\n{LETTERS[i]}. {c}" for i, c in enumerate(item.choices))
    return f"{item.question}{options}\n{ANSWER[lang]}"


def choice_strings(item: MCItem, setup: MCSetup) -> list[str]:
    return list(LETTERS[:len(item.choices)]) if setup.choices == "letters" else list(item.choices)


def context(item: MCItem, shots: list[MCItem], setup: MCSetup) -> str:
    subject = item.subject.replace("_", " ")
    solved = [question_text(s, setup.lang) + " " + choice_strings(s, setup)[s.answer] for s in shots]
    return HEADERS[setup.lang].format(subject=subject) + "".join(x + "\n\n" for x in solved) + \
        question_text(item, setup.lang)


def requests(items: list[MCItem], dev: list[MCItem], setup: MCSetup) -> list[tuple[str, str]]:
    """(context, continuation) pairs, len(choices) per item, in item order."""
    shots = dev[:setup.shots]
    if len(shots) < setup.shots:
        raise ValueError(f"subject {items[0].subject if items else '?'}: {setup.shots}-shot needs {setup.shots} dev "
                         f"items, the dev split has {len(dev)}")
    out = []
    for item in items:
        ctx = context(item, shots, setup)
        out += [(ctx, " " + c) for c in choice_strings(item, setup)]
    return out


def _argmax(values: list[float]) -> int:
    return max(range(len(values)), key=lambda i: (values[i], -i))     # ties: the first, as numpy's argmax


def score_items(items: list[MCItem], dev: list[MCItem], setup: MCSetup, model: LoglikScorer,
                batch_size: int = 8) -> list[dict[str, Any]]:
    pairs = requests(items, dev, setup)
    scored = model.loglikelihood(pairs, batch_size=batch_size, desc=f"mc {items[0].subject}" if items else "mc")
    out, k = [], 0
    for item in items:
        n = len(item.choices)
        lps = [s.logprob for s in scored[k:k + n]]
        strings = choice_strings(item, setup)
        pred = _argmax(lps)
        pred_norm = _argmax([lp / len(c) for lp, c in zip(lps, strings)])
        out.append({"subject": item.subject, "index": item.index, "answer": LETTERS[item.answer],
                    "pred": LETTERS[pred], "pred_norm": LETTERS[pred_norm], "correct": pred == item.answer,
                    "correct_norm": pred_norm == item.answer, "logprobs": lps})
        k += n
    return out


def accuracy(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy per subject and overall (micro: over items; macro: mean over subjects)."""
    by: dict[str, list[dict]] = {}
    for r in results:
        by.setdefault(r["subject"], []).append(r)
    subjects = {s: {"items": len(rs), "acc": sum(r["correct"] for r in rs) / len(rs),
                    "acc_norm": sum(r["correct_norm"] for r in rs) / len(rs)} for s, rs in sorted(by.items())}
    n = len(results)
    overall = {"items": n, "acc": sum(r["correct"] for r in results) / n if n else 0.0,
               "acc_norm": sum(r["correct_norm"] for r in results) / n if n else 0.0,
               "acc_macro": sum(v["acc"] for v in subjects.values()) / len(subjects) if subjects else 0.0}
    return {"overall": overall, "subjects": subjects}


def setup_dict(setup: MCSetup) -> dict[str, Any]:
    return asdict(setup)
