"""The mixture's manifest table (requested vs achieved shares per source) and its bar chart."""
from __future__ import annotations

from pathlib import Path

from ..plots import pyplot, save
from ..stats import StageStats
from .resolve import Allocation
from .spec import MixSpec


def mixture_rows(spec: MixSpec, alloc: dict[str, Allocation], measured: StageStats, mixed: StageStats) -> list[dict]:
    tokens = {s.name: mixed.counters.get(f"mixed_tokens.{s.name}", 0) for s in spec.sources}
    total = sum(tokens.values()) or 1
    rows = []
    for s in spec.sources:
        a = alloc[s.name]
        rows.append({"source": s.name, "dataset": s.dataset, "requested_share": round(s.share, 4),
                     "share": round(a.share, 4), "achieved_share": round(tokens[s.name] / total, 4),
                     "tokens": tokens[s.name], "available_tokens": a.available,
                     "docs": measured.counters.get(f"docs.{s.name}", 0),
                     "dataset_docs": measured.counters.get(f"docs_in.{s.name}", 0),   # before its where
                     "epochs": round(tokens[s.name] / a.available, 3) if a.available else 0.0,
                     "max_epochs": s.max_epochs})
    return rows


def plot_mixture(rows: list[dict], path: Path, name: str) -> Path:
    plt = pyplot()
    import numpy as np

    y = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(rows) + 1.5))
    ax.barh(y + 0.2, [r["requested_share"] for r in rows], height=0.4, label="requested", color="#9bb7d4")
    ax.barh(y - 0.2, [r["achieved_share"] for r in rows], height=0.4, label="achieved", color="#2f6db5")
    ax.set_yticks(y, [f"{r['source']} ({r['epochs']:.2g} ep)" for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("share of tokens")
    ax.set_title(f"mixture {name}: {sum(r['tokens'] for r in rows):,} tokens")
    ax.legend(fontsize=8)
    return save(fig, path)
