"""The RM filter rule: per category, drop samples scoring below (category mean - k * std)."""
from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

from ..plots import pyplot, save


def category_thresholds(categories: list[str], scores: list[float], k: float = 1.0) -> dict[str, dict]:
    """{category: {n, mean, std, threshold}}; std is the population standard deviation."""
    by: dict[str, list[float]] = defaultdict(list)
    for c, s in zip(categories, scores):
        by[c].append(s)
    out = {}
    for c, vals in sorted(by.items()):
        mean = sum(vals) / len(vals)
        std = math.sqrt(sum((v - mean) ** 2 for v in vals) / len(vals))
        out[c] = {"n": len(vals), "mean": mean, "std": std, "threshold": mean - k * std}
    return out


def plot_histograms(categories: list[str], scores: list[float], stats: dict[str, dict], path: Path) -> Path:
    plt = pyplot()

    cats = list(stats)
    fig, axes = plt.subplots(len(cats), 1, figsize=(7, 2.2 * max(1, len(cats))), squeeze=False)
    for ax, c in zip(axes[:, 0], cats):
        vals = [s for cc, s in zip(categories, scores) if cc == c]
        ax.hist(vals, bins=min(30, max(5, len(vals) // 3)), color="#3b7dd8")
        ax.axvline(stats[c]["threshold"], color="#d83b3b", linestyle="--", label="mean - k·std")
        ax.axvline(stats[c]["mean"], color="#444444", linestyle=":", label="mean")
        ax.set_title(f"{c}: n={stats[c]['n']}, mean={stats[c]['mean']:.3f}, std={stats[c]['std']:.3f}", fontsize=9)
        ax.legend(fontsize=7)
    axes[-1, 0].set_xlabel("reward score")
    return save(fig, path)
