"""The Bradley-Terry objective of a reward model and its figures on held-out pairs.

P(chosen > rejected) = sigmoid(r_chosen - r_rejected), so the loss is -log sigmoid(margin) (computed
as softplus(-margin), stable for large margins), accuracy is the share of pairs with a positive
margin (a tie counts as wrong), and the mean margin says how confidently they are separated.
"""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Iterable


def bt_loss(r_chosen, r_rejected):
    import torch.nn.functional as F

    return -F.logsigmoid(r_chosen - r_rejected).mean()


def pair_loss(margin: float) -> float:
    """-log sigmoid(margin) of one pair, in plain floats."""
    return math.log1p(math.exp(-margin)) if margin > -30 else -margin


def summary(margins: list[float]) -> dict[str, float]:
    n = len(margins)
    if not n:
        return {"pairs": 0, "accuracy": None, "mean_margin": None, "loss": None}
    return {"pairs": n, "accuracy": sum(m > 0 for m in margins) / n, "mean_margin": sum(margins) / n,
            "loss": sum(pair_loss(m) for m in margins) / n}


def by_group(rows: Iterable[dict], key: str) -> list[dict]:
    """summary() per value of `key` over rows with a `margin`, sorted by that value."""
    groups: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        groups[str(r.get(key))].append(r["margin"])
    return [{key: g, **summary(m)} for g, m in sorted(groups.items())]
