"""The SFT hyper-parameters a run starts from: the 360Zhinao seed's at scale, small ones for the
tiny model on the sample crawl (a few hundred samples train in under a minute on 2 CPU cores)."""
from __future__ import annotations

from typing import Any

FIELDS = ("max_len", "lr", "batch_size", "micro_batch", "weight_decay", "epochs")
RECIPES: dict[str, dict[str, Any]] = {
    # the report: packed to 8192 tokens, lr 1e-5, batch 128, weight decay 0.1, 6 epochs
    "seed": {"max_len": 8192, "lr": 1e-5, "batch_size": 128, "micro_batch": 1, "weight_decay": 0.1, "epochs": 6},
    "sample": {"max_len": 256, "lr": 1e-3, "batch_size": 8, "micro_batch": 8, "weight_decay": 0.01, "epochs": 2},
}


def resolve(recipe: str, given: dict[str, Any], recipes: dict[str, dict[str, Any]] = RECIPES) -> dict[str, Any]:
    """The recipe's values for the fields not given (None)."""
    if recipe not in recipes:
        raise ValueError(f"recipe {recipe!r}: choose one of {', '.join(recipes)}")
    return {k: recipes[recipe][k] if given.get(k) is None else given[k] for k in FIELDS}
