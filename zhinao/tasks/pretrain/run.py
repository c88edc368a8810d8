"""One pretraining run as the work of a model stage: write the run's spec beside its checkpoints,
launch the ranks while following their metrics, then hand the finished model folder (a Llama
checkpoint with the tokenizer, metrics, loss and LR plots) to the version being written."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from zhinao.model.launch import TRAIN_MODULE, launch
from zhinao.model.metrics import read_metrics
from zhinao.model.schedule import LRSchedule, plot_schedules
from zhinao.model.train_spec import TrainSpec

from ..plots import to_reports
from ..runtime import hooks
from ..runtime.ray_exec import init_ray
from .progress import MetricsFollower
from .report import plot_loss, rounded, thin


def precision_source(spec: dict[str, Any] | Any) -> dict[str, str]:
    """`precision=auto` means bf16 or fp32 by the machine, so what it resolved to is a source of the
    version (ranks on other machines than the driver, launcher=ray, should name the precision).
    `spec`: a run spec, or a pretraining spec's fields."""
    from zhinao.model.ds_config import use_bf16

    bf16 = use_bf16(TrainSpec(**spec, out="-", checkpoints="-") if isinstance(spec, dict) else spec)
    return {"name": "resolved/precision", "fingerprint": "bf16" if bf16 else "fp32"}


def logger() -> logging.Logger | logging.LoggerAdapter:
    """The run's logger (Prefect's, through the hook zhinao/flows/hooks.py installs), else zhinao.pretrain's."""
    return hooks.logger("zhinao.pretrain")


def schedules(split: dict[str, Any], spec: TrainSpec) -> list[tuple[str, LRSchedule]]:
    """This run's LR schedule, after the one it continues from (stage 2 after stage 1)."""
    before = [(name, LRSchedule(**s)) for name, s in split.get("schedules_before", [])]
    return before + [(split["stage"], spec.lr_schedule())]


def train_run(spec, name: str, params: Any, log, module: str = TRAIN_MODULE,
              batch: str | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Launch one run of `module`'s ranks (pretraining by default; the reward model has its own)
    for `spec`, resuming from its checkpoints, and follow it; its metrics rows and summary.
    `batch` says what a step trains on (default: its tokens)."""
    checkpoints = Path(spec.checkpoints)
    checkpoints.mkdir(parents=True, exist_ok=True)
    spec_path = spec.save(checkpoints / "train_spec.json")
    log.info("%s: %d steps of %s on %d rank(s), ZeRO-%d%s, checkpoints every %d steps in %s",
             name, spec.steps, batch or f"{spec.tokens_per_step(params.world_size)} tokens", params.world_size,
             spec.zero_stage, " + optimizer offload" if spec.offload_optimizer else "", spec.checkpoint_every,
             checkpoints)
    if params.launcher == "ray":
        init_ray()
    follower = MetricsFollower(checkpoints / "metrics.jsonl", spec.steps, name, log)
    try:
        launch(spec_path, params.world_size, params.launcher, params.hostfile or None,
               on_line=lambda line: log.debug("rank 0: %s", line), poll=follower, module=module)
    finally:
        follower.close()
    out = Path(spec.out)
    return read_metrics(out / "metrics.jsonl"), json.loads((out / "trainer_state.json").read_text())


def run_training(split: dict[str, Any], params: Any, sink, stats) -> None:
    log = logger()
    spec = TrainSpec(**split["spec"])
    rows, state = train_run(spec, split["stage"], params, log)
    out = Path(spec.out)
    title = f"{split['stage']}@{split['version']}"
    plots = [("loss curve (train, validation; LR dashed)", plot_loss(rows, out / "loss.png", title)),
             ("LR schedule", plot_schedules(schedules(split, spec), out / "lr.png"))]
    listed = [to_reports(png, f"{split['stage']}-{split['version']}-{png.name}", what) for what, png in plots]
    sink.write_files(out)
    stats.count("steps", spec.steps)
    stats.count("tokens_trained", state["tokens"])
    stats.table("run", [{"metric": k, "value": v} for k, v in state.items()])
    stats.table("metrics", [rounded(r) for r in thin(rows)])
    stats.table("plots", listed)
    log.info("%s: loss %.4f -> %.4f, validation %s, %s tokens/s, MFU %s (peak: %s)", split["stage"],
             state["first_loss"], state["final_loss"], _fmt(state["valid_loss"], ".4f"),
             _fmt(state["mean_tokens_per_s"], ".0f"), _fmt(state["mean_mfu"], ".1%"), state["peak_source"])


def _fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)
