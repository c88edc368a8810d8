"""Each epoch's model through the evaluate stage's task suite, and the choice of the best epoch.

An epoch's scores: its held-out assistant-token loss (`valid_loss`, from the training loop) and the
headline metric of each evaluation task (bits per byte for perplexity, strict prompt accuracy for
ifeval ...). `select_metric` names one of them; the best epoch minimises a loss or bits per byte
and maximises an accuracy; a tie goes to the earlier epoch."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..eval.run import LOWER_IS_BETTER, TASKS, headline, run_model_suite

VALID_LOSS = "valid_loss"


def check_metric(metric: str, tasks: list[str]) -> None:
    unknown = sorted(set(tasks) - set(TASKS))
    if unknown:
        raise ValueError(f"unknown eval task(s) {unknown}; tasks: {list(TASKS)}")
    if metric != VALID_LOSS and metric not in tasks:
        raise ValueError(f"select_metric {metric!r}: choose {VALID_LOSS!r} (held-out assistant-token loss) or one "
                         f"of the evaluated tasks {list(tasks)}")


def lower_is_better(metric: str) -> bool:
    return metric == VALID_LOSS or metric in LOWER_IS_BETTER


def score_epoch(folder: Path, p: Any, docs: list[dict], cache: Path) -> dict[str, Any]:
    """The epoch model's eval scores {task: headline value} and tables by the evaluation params `p`
    (the sft params' `evaluation`); kept in `cache`, so a retried
    run does not evaluate a finished epoch again."""
    if cache.exists():
        return json.loads(cache.read_text())
    out = {"scores": {}, "tables": {}}
    if p.tasks:
        done = run_model_suite(p, str(folder), folder.name, cache.parent / f"{folder.name}-plots", docs=docs)
        out = {"scores": {h["task"]: h["value"] for h in headline(done["tables"])}, "tables": done["tables"]}
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(cache.name + ".part")
    tmp.write_text(json.dumps(out, default=str))
    tmp.rename(cache)
    return out


def best_epoch(epochs: list[dict[str, Any]], metric: str) -> dict[str, Any]:
    scored = [e for e in epochs if e.get(metric) is not None]
    if not scored:
        raise ValueError(f"no epoch has a {metric!r} score (held-out samples: raise valid_fraction, or pick "
                         "another select_metric)")
    sign = 1 if lower_is_better(metric) else -1
    return min(scored, key=lambda e: (sign * e[metric], e["epoch"]))
