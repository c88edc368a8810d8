"""An alignment run as the work of a model stage: the input dataset's rows in TRL's conversational
form (DPO: prompt / chosen / rejected; GRPO and ReMax: each distinct prompt once, with its `verify`
facts), the rank launched and followed (zhinao/model/launch.py, tasks/pretrain/run.train_run), then the
model folder with its metrics, loss and method plots handed to the version."""
from __future__ import annotations

from pathlib import Path
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..plots import to_reports
from ..pretrain.report import plot_loss, rounded, thin
from ..pretrain.run import logger, train_run
from .methods import method
from .report import plot_method
from .spec import RANK_MODULE, AlignSpec

@dataclass(frozen=True)
class Launch:
    """How train_run starts the ranks (what DeepSpeedParams says for the training stages)."""
    world_size: int = 1
    launcher: str = "processes"
    hostfile: str | None = None


ONE_RANK = Launch()      # TRL runs one process; its own accelerate handles the devices


def read_rows(root, paths: list[str], columns: list[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in paths:
        with root.fs.open_input_file(path) as fh:
            t = pq.read_table(fh)
        missing = [c for c in columns if c not in t.column_names and c != "verify"]
        if missing:
            raise ValueError(f"{path}: lacks column(s) {missing} (has {t.column_names})")
        rows += t.select([c for c in columns if c in t.column_names]).to_pylist()
    return rows


def prepare(split: dict[str, Any], work: Path, rows: list[dict] | None = None) -> tuple[Path, int, dict[str, int]]:
    """The split's rows (or `rows`, read already) in TRL form in `work`/rows.parquet."""
    how = method(split["spec"]["method"])
    if rows is None:
        rows = read_rows(split["root"], split["paths"], list(how.columns))
    made, dropped = how.rows(rows)
    if not made:
        raise ValueError(f"{split['stage']}: no training rows in {split['data_ref']} "
                         f"({len(rows)} read, dropped {dropped or 'none'})")
    work.mkdir(parents=True, exist_ok=True)
    path = work / "rows.parquet"
    pq.write_table(pa.Table.from_pylist(made), path)
    return path, len(rows), dropped


def train(split: dict[str, Any], data: Path, work: Path, name: str, **spec) -> tuple[list[dict], dict, Path, list]:
    """One rank run on `data` with checkpoints in `work`: (metrics rows, summary, out folder, plots)."""
    log = logger()
    spec = AlignSpec(**split["spec"] | {"data": str(data), "checkpoints": str(work), "out": str(work / "out")} | spec)
    per_step = spec.batch_size * spec.grad_accum
    what = f"completions ({per_step // spec.num_generations} prompts)" if method(spec.method).samples else "pairs"
    rows, state = train_run(spec, name, ONE_RANK, log, module=RANK_MODULE, batch=f"{per_step} {what}")
    out = Path(spec.out)
    title = f"{name}@{split['version']}"
    plots = [(f"{name}: loss curve (LR dashed)", plot_loss(rows, out / "loss.png", title)),
             plot_method(spec.method, rows, out / f"{spec.method}.png", title)]
    log.info("%s: loss %.4f -> %.4f in %d steps (%.1fs)%s", name, state["first_loss"], state["final_loss"],
             spec.steps, state["train_seconds"],
             "".join(f", {k[6:]} {v:.4g}" for k, v in state.items() if k.startswith("final_") and
                     k != "final_loss" and isinstance(v, float)))
    return rows, state, out, plots


def report(split: dict[str, Any], stats, read: int, train_rows: int, rows: list[dict], state: dict,
           plots: list) -> None:
    stats.count("rows_in", read)
    stats.count("train_rows", train_rows)
    stats.count("steps", split["spec"]["steps"])
    stats.table("run", [{"metric": k, "value": v} for k, v in state.items() if not isinstance(v, (list, dict))])
    stats.table("metrics", [rounded(r) for r in thin(rows)])
    stats.table("plots", [to_reports(png, f"{split['stage']}-{split['version']}-{png.parent.parent.name}-{png.name}",
                                     what) for what, png in plots])


def run_align(split: dict[str, Any], params: Any, sink, stats) -> None:
    work = Path(split["spec"]["checkpoints"])
    data, read, dropped = prepare(split, work)
    for reason, n in dropped.items():
        stats.drop(reason, n)
    rows, state, out, plots = train(split, data, work, split["stage"])
    report(split, stats, read, pq.read_metadata(data).num_rows, rows, state, plots)
    sink.write_files(out)


def run_dpo_lora(split: dict[str, Any], params: Any, sink, stats) -> None:
    """One LoRA DPO adapter per value of the split_by column (the report: Chinese and English
    preference sets), each trained from the base, then all merged into the base's full weights."""
    import shutil

    from .lora_merge import merge_adapters

    work, column = Path(split["spec"]["checkpoints"]), split["split_by"]
    # the pairs are read once; each set's adapter trains on its share
    everything = read_rows(split["root"], split["paths"], list(method("dpo").columns) + [column])
    values = sorted({r[column] for r in everything if r[column]})
    weights = {v: float((split["weights"] or {}).get(v, 1.0)) for v in values}
    unknown = set(split["weights"] or {}) - set(values)
    if unknown:
        raise ValueError(f"{split['stage']}: weights for {sorted(unknown)}, which are not values of {column} "
                         f"in {split['data_ref']} ({values})")
    adapters, tables, plots, read_all, trained = [], [], [], 0, 0
    for v in values:
        data, read, dropped = prepare(split, work / v, [r for r in everything if r[column] == v])
        for reason, n in dropped.items():
            stats.drop(reason, n)
        rows, state, out, mine = train(split, data, work / v, f"{split['stage']}:{v}")
        adapters.append(out)
        plots += mine
        n = pq.read_metadata(data).num_rows
        read_all, trained = read_all + read, trained + n
        tables.append({"set": v, "pairs": n, "weight": weights[v], "first_loss": state["first_loss"],
                       "final_loss": state["final_loss"], "final_margin": state.get("final_rewards_margins"),
                       "seconds": state["train_seconds"]})
    final = work / "final"
    if final.exists():
        shutil.rmtree(final)
    info = merge_adapters(Path(split["spec"]["model"]), adapters, [weights[v] for v in values], final)
    for a, v in zip(adapters, values):              # each adapter and its curves go with the version
        shutil.copytree(a, final / "adapters" / v, ignore=shutil.ignore_patterns("*.png"))
    report(split, stats, read_all, trained, [], {"sets": len(values), **info}, plots)
    stats.table("adapters", tables)
    sink.write_files(final)
