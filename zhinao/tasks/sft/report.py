"""The SFT run report's epoch plot: each per-epoch score (held-out loss, every eval task's headline
metric) over the epochs, the selected metric's best epoch marked."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..plots import pyplot, save


def plot_epochs(epochs: list[dict[str, Any]], metrics: list[str], selected: str, best: int, path: Path) -> Path:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.4 * len(metrics), 3.0), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        points = [(e["epoch"], e[metric]) for e in epochs if e.get(metric) is not None]
        ax.plot([x for x, _ in points], [y for _, y in points], "o-")
        chosen = [y for x, y in points if x == best]
        if chosen:
            ax.plot([best], chosen, "*", ms=14, color="#d83b3b",
                    label=f"best epoch by {selected}" if metric == selected else f"epoch {best}")
            ax.legend(fontsize=7)
        ax.set_title(metric + (" (selects)" if metric == selected else ""), fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_xticks([e["epoch"] for e in epochs])
    return save(fig, path)
