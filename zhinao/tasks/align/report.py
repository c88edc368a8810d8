"""The alignment run's own curve beside its loss: DPO's implicit-reward margin and pair accuracy;
GRPO's and ReMax's mean reward of the sampled answers (ReMax: and of the greedy baseline)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..plots import pyplot, save


def plot_method(method: str, rows: list[dict[str, Any]], path: Path, title: str = "") -> tuple[str, Path]:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    steps = [r["step"] for r in rows]
    if method == "dpo":
        what = "DPO reward margin (chosen - rejected) and pair accuracy"
        ax.plot(steps, [r.get("rewards_margins", float("nan")) for r in rows], label="margin")
        ax.set_ylabel("implicit reward margin")
        acc = ax.twinx()
        acc.plot(steps, [r.get("rewards_accuracies", float("nan")) for r in rows], color="grey", ls="--", lw=0.8)
        acc.set_ylabel("accuracy (dashed)", color="grey")
    else:
        what = f"{method} mean reward of the sampled answers"
        ax.plot(steps, [r.get("reward", float("nan")) for r in rows], label="sampled answers")
        if method == "remax":
            what += " and of the greedy baseline"
            ax.plot(steps, [r.get("remax_greedy_reward", float("nan")) for r in rows], label="greedy (baseline)")
        ax.set_ylabel("reward")
    ax.set_xlabel("step")
    ax.legend(loc="upper left")
    ax.set_title(title)
    return what, save(fig, path)
