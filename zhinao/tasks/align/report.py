"""The alignment run's own curves beside its loss, as its method declares them (methods.py): DPO's
implicit-reward margin and pair accuracy; GRPO's and ReMax's mean reward of the sampled answers
(ReMax: and of the greedy baseline)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..plots import pyplot, save
from .methods import method


def plot_method(name: str, rows: list[dict[str, Any]], path: Path, title: str = "") -> tuple[str, Path]:
    how = method(name)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    steps = [r["step"] for r in rows]
    right = None
    for curve in how.curves:
        values = [r.get(curve.column, float("nan")) for r in rows]
        if curve.right:
            right = right or ax.twinx()
            right.plot(steps, values, color="grey", ls="--", lw=0.8)
            right.set_ylabel(curve.label, color="grey")
        else:
            ax.plot(steps, values, label=curve.label)
    ax.set_ylabel(how.ylabel)
    ax.set_xlabel("step")
    ax.legend(loc="upper left")
    ax.set_title(title)
    return how.title, save(fig, path)
