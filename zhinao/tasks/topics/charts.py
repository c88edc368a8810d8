"""A distribution before and after a down-sampling, as a bar chart: one panel per group (the topic
distribution of each language after rebalancing; the label distributions of SFT data after
stratified sampling), the share of that panel's rows per item."""
from __future__ import annotations

from pathlib import Path

from ..plots import pyplot, save


def plot_distribution(rows: list[dict], path: Path, title: str, panel: str = "lang", item: str = "topic",
                      xlabel: str = "share of the language's documents", unit: str = "docs") -> Path:
    """rows: {panel, item, before, after} per bar."""
    plt = pyplot()
    import numpy as np

    panels = sorted({r[panel] for r in rows})
    height = max(3.0, 0.22 * max(sum(r[panel] == p for r in rows) for p in panels) + 1.5)
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), height), squeeze=False)
    for ax, name in zip(axes[0], panels):
        mine = sorted((r for r in rows if r[panel] == name), key=lambda r: r["before"])
        before = np.array([r["before"] for r in mine], dtype=float)
        after = np.array([r["after"] for r in mine], dtype=float)
        y = np.arange(len(mine))
        ax.barh(y + 0.2, before / max(before.sum(), 1), height=0.4, label=f"before ({int(before.sum())} {unit})",
                color="#9bb7d4")
        ax.barh(y - 0.2, after / max(after.sum(), 1), height=0.4, label=f"after ({int(after.sum())} {unit})",
                color="#2f6db5")
        ax.set_yticks(y, [r[item] for r in mine], fontsize=7)
        ax.set_xlabel(xlabel)
        ax.set_title(name)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(title, fontsize=10)
    return save(fig, path)
