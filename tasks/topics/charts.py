"""The topic distribution by language before and after rebalancing, as a bar chart (one panel per
language, share of that language's documents per topic)."""
from __future__ import annotations

from pathlib import Path

from ..plots import pyplot, save


def plot_distribution(rows: list[dict], path: Path, title: str) -> Path:
    """rows: {lang, topic, before, after} per group."""
    plt = pyplot()
    import numpy as np

    langs = sorted({r["lang"] for r in rows})
    height = max(3.0, 0.22 * max(sum(r["lang"] == lang for r in rows) for lang in langs) + 1.5)
    fig, axes = plt.subplots(1, len(langs), figsize=(6 * len(langs), height), squeeze=False)
    for ax, lang in zip(axes[0], langs):
        mine = sorted((r for r in rows if r["lang"] == lang), key=lambda r: r["before"])
        before = np.array([r["before"] for r in mine], dtype=float)
        after = np.array([r["after"] for r in mine], dtype=float)
        y = np.arange(len(mine))
        ax.barh(y + 0.2, before / max(before.sum(), 1), height=0.4, label=f"before ({int(before.sum())} docs)",
                color="#9bb7d4")
        ax.barh(y - 0.2, after / max(after.sum(), 1), height=0.4, label=f"after ({int(after.sum())} docs)",
                color="#2f6db5")
        ax.set_yticks(y, [r["topic"] for r in mine], fontsize=7)
        ax.set_xlabel("share of the language's documents")
        ax.set_title(lang)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(title, fontsize=10)
    return save(fig, path)
