"""The ablation's comparison: validation loss per data version (mean over seeds, min-max band) on
one plot, and a table of final and best validation loss, the gap to the first version, tokens and
epochs."""
from __future__ import annotations

from pathlib import Path
from statistics import mean, pstdev
from typing import Any

from ..plots import pyplot, save


def curves(runs: list[dict[str, Any]]) -> dict[str, dict[int, list[float]]]:
    """dataset -> step -> validation losses of its seeds."""
    out: dict[str, dict[int, list[float]]] = {}
    for run in runs:
        for row in run["metrics"]:
            if row.get("valid_loss") is not None:
                out.setdefault(run["dataset"], {}).setdefault(row["step"], []).append(row["valid_loss"])
    return out


def table(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_data = curves(runs)
    rows, first = [], None
    for name, steps in by_data.items():
        final = steps[max(steps)]
        info = next(r for r in runs if r["dataset"] == name)
        row = {"dataset": name, "seeds": len(final), "train_docs": info["docs"],
               "removed_overlap": info["removed"], "train_tokens": info["tokens"],
               "epochs": round(info["epochs"], 2), "final_valid_loss": round(mean(final), 4),
               "std_over_seeds": round(pstdev(final), 4) if len(final) > 1 else None,
               "best_valid_loss": round(min(mean(v) for v in steps.values()), 4)}
        first = row["final_valid_loss"] if first is None else first
        row["vs_first"] = round(row["final_valid_loss"] - first, 4)
        rows.append(row)
    return rows


def plot(runs: list[dict[str, Any]], path: Path, title: str) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for name, steps in curves(runs).items():
        xs = sorted(steps)
        line, = ax.plot(xs, [mean(steps[x]) for x in xs], "o-", ms=3, label=name)
        if any(len(steps[x]) > 1 for x in xs):
            ax.fill_between(xs, [min(steps[x]) for x in xs], [max(steps[x]) for x in xs],
                            color=line.get_color(), alpha=0.2)
    ax.set_xlabel("step")
    ax.set_ylabel("validation loss")
    ax.set_title(title)
    ax.legend()
    return save(fig, path)
