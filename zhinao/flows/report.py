"""The data pipeline's funnel: raw records to kept documents, stage by stage, as a table and a plot."""
from __future__ import annotations

import logging
from pathlib import Path

from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.context import FlowRunContext

from zhinao.tasks.plots import pyplot, save
from zhinao.tasks.settings import get_settings

from .stage import StageResult
from .links import absolute

log = logging.getLogger("zhinao.report")


def funnel_rows(results: list[StageResult]) -> list[dict]:
    rows = []
    raw = None
    for r in results:
        counters = r.stats.get("counters", {})
        rows_in = counters.get("records_in", counters.get("rows_in", r.rows))
        raw = raw or rows_in or 1
        rows.append({"stage": r.stage, "version": r.version, "rows_in": rows_in, "rows_out": r.rows,
                     "dropped": sum(r.stats.get("dropped", {}).values()),
                     "share_of_raw": round(r.rows / raw, 4), "cache_hit": r.cache_hit})
    return rows


def plot_funnel(rows: list[dict], path: Path) -> Path:
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(7, 0.45 * len(rows) + 1.2))
    labels = ["raw records"] + [r["stage"] for r in rows]
    values = [rows[0]["rows_in"]] + [r["rows_out"] for r in rows]
    ax.barh(labels[::-1], values[::-1], color="#3b7dd8")
    for y, v in enumerate(values[::-1]):
        ax.text(v, y, f" {v:,}", va="center", fontsize=8)
    ax.set_xlabel("documents")
    ax.set_title("Data pipeline funnel")
    ax.margins(x=0.15)
    return save(fig, path, dpi=120)


def publish_funnel(results: list[StageResult]) -> list[dict]:
    rows = funnel_rows(results)
    png = plot_funnel(rows, get_settings().reports / f"funnel-{results[-1].version}.png")
    top = max(r["rows_in"] for r in rows) or 1
    bars = "\n".join(f"{r['stage']:>15} {'█' * max(1, round(40 * r['rows_out'] / top))} {r['rows_out']:,}"
                     for r in rows)
    log.info("funnel (plot: %s):\n%s", png, bars)
    if FlowRunContext.get() is not None:
        create_table_artifact(key="data-funnel", table=rows, description="Documents kept by each stage")
        create_markdown_artifact(key="data-funnel-plot", markdown=f"# Data funnel\n\n```\n{bars}\n```\n\n"
                                          f"![funnel]({absolute('/report/' + png.name)})\n",
                                 description="Raw records to kept documents")
    return rows
