"""The run report: loss curve (train and validation, LR on a second axis) and a metrics table thinned to a readable number of rows."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..plots import pyplot, save


def plot_loss(rows: list[dict[str, Any]], path: Path, title: str = "") -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    train = [r for r in rows if "loss" in r]
    ax.plot([r["step"] for r in train], [r["loss"] for r in train], label="train loss", lw=1)
    valid = [r for r in rows if r.get("valid_loss") is not None]
    if valid:
        ax.plot([r["step"] for r in valid], [r["valid_loss"] for r in valid], "o-", label="validation loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if train:
        lr = ax.twinx()
        lr.plot([r["step"] for r in train], [r["lr"] for r in train], color="grey", ls="--", lw=0.8)
        lr.set_ylabel("learning rate (dashed)", color="grey")
    ax.legend(loc="upper right")
    ax.set_title(title)
    return save(fig, path)


def thin(rows: list[dict[str, Any]], keep: int = 40) -> list[dict[str, Any]]:
    """At most `keep` rows, evenly spaced, always with the last one and every validation row."""
    if len(rows) <= keep:
        return rows
    every = -(-len(rows) // keep)
    return [r for i, r in enumerate(rows)
            if i % every == 0 or i == len(rows) - 1 or r.get("valid_loss") is not None]


def rounded(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (float(f"{v:.4g}") if isinstance(v, float) else v) for k, v in row.items()}
