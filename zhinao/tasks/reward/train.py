"""A reward-model run as the work of a model stage: tokenize the pairs (dropping those that do not
fit, by reason), size the run, launch the ranks (zhinao/tasks/reward/train_rank.py) while following their
metrics, then hand the reward model folder, with its validation figures and plots, to the version."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from zhinao.model.metrics import read_metrics

from ..plots import to_reports
from ..pretrain.report import plot_loss, rounded, thin
from ..pretrain.run import logger, train_run
from .pair_data import prepare
from .report import plot_margins
from .rm_spec import RANK_MODULE, RewardSpec


def run_steps(steps: int, epochs: float, train_pairs: int, per_step: int) -> int:
    """`steps`, or (0) enough steps for `epochs` passes over the training pairs."""
    return steps or max(1, math.ceil(epochs * train_pairs / per_step))


def run_reward_model(split: dict[str, Any], params: Any, sink, stats) -> None:
    log = logger()
    work = Path(split["spec"]["checkpoints"])
    pairs = work / "pairs.parquet"
    counts = prepare(split["root"], split["paths"], split["spec"]["model"], split["max_length"],
                     params.valid_fraction, params.seed, pairs)
    for reason, n in counts["dropped"].items():
        stats.drop(reason, n)
    log.info("reward-model: %d pairs (%d training, %d held out), %d dropped (%s); longest %d tokens (limit %d)",
             counts["pairs"], counts["train"], counts["valid"], sum(counts["dropped"].values()),
             ", ".join(f"{k}={v}" for k, v in sorted(counts["dropped"].items())) or "none", counts["max_tokens"],
             split["max_length"])
    if not counts["train"] or not counts["valid"]:
        raise ValueError(f"reward-model: {counts['train']} training and {counts['valid']} validation pairs after "
                         f"{counts['dropped'] or 'no'} drops (max_length {split['max_length']} tokens, valid_fraction "
                         f"{params.valid_fraction}); both splits need pairs")
    per_step = split["spec"]["micro_batch"] * split["spec"]["grad_accum"] * params.world_size
    steps = run_steps(params.steps, params.epochs, counts["train"], per_step)
    spec = RewardSpec(**split["spec"] | {"steps": steps, "pairs": str(pairs),
                                         "warmup_steps": min(split["spec"]["warmup_steps"], steps - 1)})
    rows, state = train_run(spec, "reward-model", params, log, module=RANK_MODULE,
                            batch=f"{spec.pairs_per_step(params.world_size)} pairs")
    out = Path(spec.out)
    valid = [json.loads(x) for x in (out / "validation.jsonl").read_text().splitlines() if x.strip()]
    title = f"reward-model@{split['version']}"
    plots = [("loss curve (train, validation; LR dashed)", plot_loss(rows, out / "loss.png", title)),
             ("validation margins by category", plot_margins(valid, out / "margins.png", title))]
    listed = [to_reports(png, f"reward-model-{split['version']}-{png.name}", what) for what, png in plots]
    sink.write_files(out)
    stats.count("rows_in", counts["pairs"] + sum(counts["dropped"].values()))
    stats.count("train_pairs", counts["train"])
    stats.count("valid_pairs", counts["valid"])
    stats.count("steps", steps)
    overall = {"category": "(all)", "pairs": state["valid_pairs"], "accuracy": state["valid_accuracy"],
               "mean_margin": state["valid_mean_margin"], "loss": state["valid_loss"]}
    stats.table("validation", [rounded(r) for r in state["by_category"] + [overall]])
    stats.table("validation_by_lang", [rounded(r) for r in state["by_lang"]])
    stats.table("validation_by_origin", [rounded(r) for r in state["by_origin"]])
    stats.table("run", [{"metric": k, "value": v} for k, v in state.items() if not isinstance(v, (list, dict))])
    stats.table("metrics", [rounded(r) for r in thin(read_metrics(out / "metrics.jsonl"))])
    stats.table("plots", listed)
    log.info("reward-model: validation accuracy %.3f on %d pairs (%s), mean margin %.3f; loss %.4f -> %.4f in %.1fs",
             state["valid_accuracy"], state["valid_pairs"],
             ", ".join(f"{g['category']} {g['accuracy']:.3f}" for g in state["by_category"]),
             state["valid_mean_margin"], state["first_loss"], state["final_loss"], state["train_seconds"])
