"""Math preference pairs: a generated word problem (English or Chinese) with its correct worked
answer (chosen) against the same answer with a corrupted number (rejected).

Corruptions: `final_answer` changes only the `#### N` line, so the work no longer supports the
answer; `arithmetic` makes one step's result wrong and carries the error through to the answer, so
the work is consistent but false. Each pair is checked by GSM8K's strict answer extraction
(zhinao/tasks/eval/gsm8k.py): the chosen answer must match the true result and the rejected one must not.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Iterator

from ..eval.gsm8k import MathItem, verdicts
from .pairs import pair

CORRUPTIONS = ("final_answer", "arithmetic")
NAMES = {"en": ("Mia", "Leo", "Ava", "Sam", "Noah", "Lily"), "zh": ("小明", "小红", "小华", "小丽", "小刚", "小芳")}
# (English plural, Chinese noun, Chinese measure word)
THINGS = (("apples", "苹果", "个"), ("books", "书", "本"), ("pencils", "铅笔", "支"), ("stamps", "邮票", "张"),
          ("marbles", "弹珠", "颗"), ("cards", "卡片", "张"))


@dataclass(frozen=True)
class Problem:
    question: str
    work: Callable[[dict[int, int]], tuple[list[str], int]]   # slips {step: delta} -> (lines, answer)

    def solution(self, slips: dict[int, int] | None = None, final_delta: int = 0) -> tuple[str, int]:
        lines, answer = self.work(slips or {})
        return "\n".join(lines + [f"#### {answer + final_delta}"]), answer


def _packs(rng: random.Random, lang: str) -> Problem:
    a, b, c = rng.randint(3, 40), rng.randint(2, 9), rng.randint(2, 12)
    name, (en, zh, unit) = rng.choice(NAMES[lang]), rng.choice(THINGS)

    def work(slip):
        held = b * c + slip.get(0, 0)
        total = a + held + slip.get(1, 0)
        if lang == "zh":
            return [f"{b} 包，每包 {c} {unit}：{b} * {c} = {held} {unit}。", f"{a} + {held} = {total}。"], total
        return [f"The packs hold {b} * {c} = {held} {en}.", f"{a} + {held} = {total}."], total

    q = (f"{name}有 {a} {unit}{zh}，又买了 {b} 包，每包 {c} {unit}。{name}现在一共有多少{unit}{zh}？" if lang == "zh" else
         f"{name} has {a} {en}. {name} buys {b} packs of {c} {en} each. How many {en} does {name} have now?")
    return Problem(q, work)


def _change(rng: random.Random, lang: str) -> Problem:
    price, count = rng.randint(2, 15), rng.randint(2, 8)
    paid = price * count + rng.randint(1, 30)
    name, (en, zh, unit) = rng.choice(NAMES[lang]), rng.choice(THINGS)

    def work(slip):
        cost = price * count + slip.get(0, 0)
        back = paid - cost + slip.get(1, 0)
        if lang == "zh":
            return [f"{count} {unit}{zh}花费 {count} * {price} = {cost} 元。", f"{paid} - {cost} = {back}。"], back
        return [f"{count} {en} cost {count} * {price} = {cost} dollars.", f"{paid} - {cost} = {back}."], back

    q = (f"每{unit}{zh} {price} 元。{name}买了 {count} {unit}，付了 {paid} 元。应该找回多少元？" if lang == "zh" else
         f"One of the {en} costs {price} dollars. {name} buys {count} and pays with {paid} dollars. "
         "How much change does " + name + " get?")
    return Problem(q, work)


def _share(rng: random.Random, lang: str) -> Problem:
    groups, each, extra = rng.randint(2, 9), rng.randint(2, 12), rng.randint(1, 9)
    total = groups * each
    name, (en, zh, unit) = rng.choice(NAMES[lang]), rng.choice(THINGS)

    def work(slip):
        share = total // groups + slip.get(0, 0)
        kept = share + extra + slip.get(1, 0)
        if lang == "zh":
            return [f"每人分到 {total} / {groups} = {share} {unit}。", f"{share} + {extra} = {kept}。"], kept
        return [f"Each friend gets {total} / {groups} = {share} {en}.", f"{share} + {extra} = {kept}."], kept

    q = (f"{name}把 {total} {unit}{zh}平均分给 {groups} 个朋友，其中一个朋友又得到 {extra} {unit}。"
         f"这个朋友一共有多少{unit}？" if lang == "zh" else
         f"{name} shares {total} {en} equally among {groups} friends. One friend then gets {extra} more. "
         f"How many {en} does that friend have?")
    return Problem(q, work)


TEMPLATES = (_packs, _change, _share)


def _delta(rng: random.Random) -> int:
    """A plausible slip: off by a few, or by ten (a carried digit)."""
    return rng.choice([-1, 1]) * (10 if rng.random() < 0.25 else rng.randint(1, 5))


def math_pairs(n: int, langs: list[str], seed: int, corruptions: list[str]) -> Iterator[tuple[dict, str | None]]:
    """(pair, None) for each kept pair, (pair, reason) for each one the checker refused."""
    unknown = sorted(set(corruptions) - set(CORRUPTIONS))
    if unknown:
        raise ValueError(f"unknown math corruption(s) {unknown}; choose from {list(CORRUPTIONS)}")
    if n and not corruptions:
        raise ValueError("math pairs need at least one corruption")
    rng = random.Random(f"{seed}:math-pairs")
    for i in range(n):
        lang, kind = langs[i % len(langs)], corruptions[(i // len(langs)) % len(corruptions)]
        problem = rng.choice(TEMPLATES)(rng, lang)
        chosen, answer = problem.solution()
        delta = _delta(rng)
        if kind == "final_answer":
            rejected, _ = problem.solution(final_delta=delta)
        else:
            rejected, _ = problem.solution(slips={rng.randint(0, 1): delta})
        item = MathItem(i, problem.question, chosen, str(answer))
        row = pair(problem.question, chosen, rejected, "math", lang, f"pairs:math-{kind.replace('_', '-')}",
                   {"answer": str(answer)})
        if not verdicts(item, chosen)["strict_match"]:
            yield row, "math_chosen_wrong"
        elif verdicts(item, rejected)["strict_match"]:
            yield row, "math_rejected_correct"
        else:
            yield row, None
