"""One SFT run as the work of a model stage: the chat data rendered and packed into the run's work
folder, the training ranks launched (the pretraining loop, epoch by epoch: its checkpoints,
metrics and resume) while their metrics are followed, every epoch's model evaluated, and the best
epoch's folder, with the run's metrics, per-epoch scores and plots, handed to the version."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from zhinao.model.metrics import read_metrics
from zhinao.model.packed import steps_per_epoch
from zhinao.model.train_spec import TrainSpec

from ..plots import to_reports
from ..pretrain.report import plot_loss, rounded, thin
from ..pretrain.run import logger, train_run
from .data import prepare, read_conversations
from .epochs import VALID_LOSS, best_epoch, score_epoch
from .render import ChatRenderer
from .report import plot_epochs
from .version import assemble, write_generation_config


def run_spec(split: dict[str, Any], p: Any, train_rows: int, valid_rows: int, data: Path) -> TrainSpec:
    """The plan's spec with what the packed data decides: steps (whole epochs) and validation batches."""
    epoch_steps = steps_per_epoch(train_rows, p.batch_size)
    steps = p.epochs * epoch_steps
    return TrainSpec(**split["spec"] | {"data": str(data), "steps": steps, "epoch_steps": epoch_steps,
                                        "warmup_steps": int(p.warmup_ratio * steps),
                                        "eval_batches": max(1, -(-valid_rows // p.micro_batch))})


def prepare_chats(split: dict[str, Any], renderer: ChatRenderer, params: Any, folder: Path, stats) -> tuple:
    """SFT's data: the chat dataset's conversations, rendered and packed into `folder`."""
    return prepare(read_conversations(split["root"], split["paths"], split["data_ref"]), renderer, params, folder, stats)


def run_sft(split: dict[str, Any], params: Any, sink, stats, prepare_data=prepare_chats) -> None:
    """One run: `prepare_data` writes the packed rows ((train, valid, held-out documents)), the ranks
    train epoch by epoch, the best epoch is the version."""
    log = logger()
    work = Path(split["work"])
    renderer = ChatRenderer.from_folder(split["model_path"])
    train, valid, docs = prepare_data(split, renderer, params, work / "data", stats)
    if params.select_metric == VALID_LOSS and not valid.rows:
        raise ValueError(f"select_metric {VALID_LOSS} needs held-out samples, and none of the "
                         f"{train.samples + valid.samples} samples is held out at valid_fraction "
                         f"{params.valid_fraction}: raise it or select by an eval task")
    spec = run_spec(split, params, train.rows, valid.rows, work / "data")
    log.info("%s: %d epochs of %d steps (batch %d rows of %d tokens, lr %.3g, weight decay %.3g) from %s",
             split["stage"], spec.epochs, spec.epoch_steps, params.batch_size, spec.seq_len, spec.max_lr, spec.weight_decay,
             split["model_path"])
    _, state = train_run(spec, split["stage"], params, log)
    metrics = read_metrics(Path(spec.out) / "metrics.jsonl")

    epochs = []
    for e in state["epochs"]:
        folder = Path(e["model"])
        write_generation_config(folder, renderer)
        scored = score_epoch(folder, params.evaluation, docs, work / "eval" / f"{folder.name}.json")
        epochs.append({"epoch": e["epoch"], "step": e["step"], VALID_LOSS: e[VALID_LOSS], **scored["scores"]})
        log.info("%s epoch %d: %s", split["stage"], e["epoch"], ", ".join(f"{k} {v:.4g}" for k, v in epochs[-1].items()
                                                            if k not in ("epoch", "step") and v is not None))
    best = best_epoch(epochs, params.select_metric)
    log.info("%s: epoch %d is the best by %s (%.4g)", split["stage"], best["epoch"], params.select_metric, best[params.select_metric])

    title = f"{split['stage']}@{split['version']}"
    metric_names = [VALID_LOSS] + [k for k in epochs[0] if k not in ("epoch", "step", VALID_LOSS)]
    plots = [("loss curve (train, held-out loss at each epoch; LR dashed)",
              plot_loss(metrics, work / "report" / "loss.png", title)),
             ("per-epoch scores, the best epoch starred",
              plot_epochs(epochs, metric_names, params.select_metric, best["epoch"], work / "report" / "epochs.png"))]
    best_folder = Path(state["epochs"][best["epoch"] - 1]["model"])
    extra = {png.name: png for _, png in plots} | {"packing.json": work / "data" / "packing.json"}
    extra |= {f"eval/{f.name}": f for f in sorted((work / "eval").glob("epoch-*.json"))}
    summary = {**{k: v for k, v in state.items() if k != "epochs"}, "best_epoch": best["epoch"],
               "select_metric": params.select_metric, "epochs": epochs, "base_model": split["model_ref"],
               "data": split["data_ref"], "packing": params.packing}
    out = assemble(work / "version", best_folder, Path(spec.out), extra, summary)
    listed = [to_reports(out / png.name, f"{split['stage']}-{split['version']}-{png.name}", what) for what, png in plots]
    sink.write_files(out)
    stats.count("epochs", len(epochs))
    stats.count("best_epoch", best["epoch"])
    stats.count("steps", spec.steps)
    stats.count("tokens_trained", state["tokens"])
    stats.table("epochs", [rounded(e) for e in epochs])
    stats.table("run", [{"metric": k, "value": v} for k, v in summary.items() if not isinstance(v, (list, dict))])
    stats.table("metrics", [rounded(r) for r in thin(metrics)])
    stats.table("plots", listed)
