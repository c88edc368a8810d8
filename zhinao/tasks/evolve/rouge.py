"""ROUGE-L between instructions, in the chat text units (zhinao/tasks/chat/text.py: Han characters, words
elsewhere), and the self-instruct filter: a new instruction is dropped when its ROUGE-L F1 with any
instruction already in the pool reaches a threshold.

The longest common subsequence is computed bit-parallel (Crochemore et al. 2001): one bit per unit
of the pool item, one big-integer add per unit of the candidate, so comparing a candidate with a
pool item costs O(len) integer operations instead of an O(len^2) table."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..chat.text import units


def unit_masks(tokens: list[str]) -> dict[str, int]:
    masks: dict[str, int] = {}
    for i, t in enumerate(tokens):
        masks[t] = masks.get(t, 0) | (1 << i)
    return masks


def lcs_length(a: list[str], b: list[str], masks: dict[str, int] | None = None) -> int:
    """Length of the longest common subsequence of two unit lists (`masks`: unit_masks(a), reused)."""
    if not a or not b:
        return 0
    masks = unit_masks(a) if masks is None else masks
    full = (1 << len(a)) - 1
    v = full
    for t in b:
        m = masks.get(t)
        if m:
            u = v & m
            v = ((v + u) | (v - u)) & full
    return len(a) - bin(v).count("1")


def f1(lcs: int, n_ref: int, n_cand: int) -> float:
    if lcs == 0:
        return 0.0
    p, r = lcs / n_cand, lcs / n_ref
    return 2 * p * r / (p + r)


def rouge_l(reference: str, candidate: str) -> float:
    """ROUGE-L F1 (as rouge_score's fmeasure, in these units; no stemming, like self-instruct)."""
    a, b = units(reference), units(candidate)
    return f1(lcs_length(a, b), len(a), len(b))


@dataclass
class RougePool:
    """Instructions seen so far; `most_similar` finds the closest one, `add` grows the pool."""
    ids: list[str] = field(default_factory=list)
    tokens: list[list[str]] = field(default_factory=list)
    masks: list[dict[str, int]] = field(default_factory=list)

    def add(self, item_id: str, text: str) -> None:
        t = units(text)
        self.ids.append(item_id)
        self.tokens.append(t)
        self.masks.append(unit_masks(t))

    def most_similar(self, text: str, among: set[str] | None = None) -> tuple[float, str | None]:
        """(best ROUGE-L F1, id of that pool item), over the whole pool or the ids in `among`."""
        cand = units(text)
        best, best_id = 0.0, None
        for item_id, ref, masks in zip(self.ids, self.tokens, self.masks):
            if among is not None and item_id not in among:
                continue
            # F1 <= 2 min / (sum): skip items too different in length to beat the best so far
            if not ref or not cand or 2 * min(len(ref), len(cand)) / (len(ref) + len(cand)) <= best:
                continue
            score = f1(lcs_length(ref, cand, masks), len(ref), len(cand))
            if score > best:
                best, best_id = score, item_id
        return best, best_id

    def __len__(self) -> int:
        return len(self.ids)
