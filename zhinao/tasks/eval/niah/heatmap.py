"""The depth x context length heatmap of mean scores (green found, red missed), one panel per
language (or variant), each cell annotated with its score."""
from __future__ import annotations

from pathlib import Path

from ...plots import pyplot, save
from .aggregate import grid


def plot_heatmap(results: list[dict], path: Path, title: str = "needle in a haystack",
                 panel: str = "lang") -> Path:
    """Scored items -> a PNG at `path`; `panel`: the field splitting panels ("lang", "variant"), or
    None for a single panel over everything."""
    if not results:
        raise ValueError("no scored items to plot")
    plt = pyplot()
    import numpy as np

    names = sorted({r[panel] for r in results}) if panel else [None]
    fig, axes = plt.subplots(1, len(names), figsize=(1.2 + 1.1 * _n_lengths(results) * len(names) + 1.5, 5.5),
                             squeeze=False)
    image = None
    for ax, name in zip(axes[0], names):
        depths, lengths, matrix = grid([r for r in results if panel is None or r[panel] == name])
        values = np.array([[np.nan if v is None else v for v in row] for row in matrix], dtype=float)
        image = ax.imshow(values, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(lengths)), [_tokens(n) for n in lengths])
        ax.set_yticks(range(len(depths)), [f"{d:g}%" for d in depths])
        ax.set_xlabel("context length (tokens)")
        ax.set_ylabel("needle depth")
        ax.set_title(name or "all", fontsize=10)
        for i, row in enumerate(matrix):
            for j, v in enumerate(row):
                if v is not None:
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7)
    if image is not None:
        fig.colorbar(image, ax=axes[0, -1], label="mean score")
    fig.suptitle(title)
    return save(fig, Path(path))


def _n_lengths(results) -> int:
    return max(1, len({r["length"] for r in results}))


def _tokens(n: int) -> str:
    return f"{n / 1024:g}k" if n >= 1024 and n % 512 == 0 else str(n)
