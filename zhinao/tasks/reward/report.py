"""The reward model's validation plot: per category, the histogram of margins r(chosen) - r(rejected)
on the held-out pairs (right of 0: ranked as preferred)."""
from __future__ import annotations

from pathlib import Path

from ..plots import pyplot, save
from .bt import by_group


def plot_margins(rows: list[dict], path: Path, title: str = "") -> Path:
    plt = pyplot()
    groups = by_group(rows, "category")
    fig, axes = plt.subplots(len(groups) or 1, 1, figsize=(7, 2.2 * max(1, len(groups))), squeeze=False)
    for ax, g in zip(axes[:, 0], groups):
        margins = [r["margin"] for r in rows if str(r["category"]) == g["category"]]
        ax.hist(margins, bins=min(30, max(5, len(margins) // 3)), color="#3b7dd8")
        ax.axvline(0, color="#d83b3b", linestyle="--", label="0: a tie")
        ax.axvline(g["mean_margin"], color="#444444", linestyle=":", label="mean margin")
        ax.set_title(f"{g['category']}: {g['pairs']} pairs, accuracy {g['accuracy']:.3f}, "
                     f"mean margin {g['mean_margin']:.3f}", fontsize=9)
        ax.legend(fontsize=7)
    axes[-1, 0].set_xlabel("r(chosen) - r(rejected) on held-out pairs")
    if title:
        fig.suptitle(title, fontsize=10)
    return save(fig, path)
