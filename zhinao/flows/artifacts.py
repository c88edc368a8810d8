"""Prefect artifacts of a committed version: a statistics table and a lineage page."""
from __future__ import annotations

import logging

from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.context import FlowRunContext

from zhinao.tasks.stats import StageStats, artifact_key
from zhinao.tasks.store import Manifest, Store

from .lineage_view import to_markdown
from .links import absolute, plots, version_url

log = logging.getLogger("zhinao.artifacts")


def publish_artifacts(store: Store, m: Manifest, stats: StageStats) -> None:
    if FlowRunContext.get() is None:  # called outside a flow run (library use): nothing to attach to
        return
    rows = [{"metric": "rows_out", "value": m.rows}, {"metric": "shards", "value": len(m.shards)},
            {"metric": "bytes", "value": m.bytes}] + stats.rows()
    create_table_artifact(key=artifact_key(f"{m.dataset}-stats"), table=rows,
                          description=f"Statistics of {m.ref}")
    for name, table in stats.tables.items():
        if name != "plots":         # plots: images served by `zhinao ui`, not paths on the runner's disk
            create_table_artifact(key=artifact_key(f"{m.dataset}-{name}"), table=table,
                                  description=f"{name} of {m.ref}")
    shown = plots(m)
    if shown:
        images = "\n\n".join(f"## {p['what']}\n\n![{p['what']}]({absolute(p['url'])})" for p in shown)
        create_markdown_artifact(key=artifact_key(f"{m.dataset}-plots"), description=f"Plots of {m.ref}",
                                 markdown=f"# Plots of `{m.ref}`\n\nServed by `zhinao ui` ({page_link(m)}).\n\n{images}\n")
    create_markdown_artifact(key=artifact_key(f"{m.dataset}-lineage"),
                             markdown=f"Version page: {page_link(m)}\n\n" + to_markdown(store.lineage(m)),
                             description=f"Lineage of {m.ref}")


def page_link(m: Manifest) -> str:
    return f"[{m.ref}]({version_url(m.ref)})"
