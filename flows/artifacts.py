"""Prefect artifacts of a committed version: a statistics table and a lineage page."""
from __future__ import annotations

import logging

from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.context import FlowRunContext

from tasks.stats import StageStats, artifact_key
from tasks.store import Manifest, Store

from .lineage_view import to_markdown

log = logging.getLogger("zhinao.artifacts")


def publish_artifacts(store: Store, m: Manifest, stats: StageStats) -> None:
    if FlowRunContext.get() is None:  # called outside a flow run (library use): nothing to attach to
        return
    rows = [{"metric": "rows_out", "value": m.rows}, {"metric": "shards", "value": len(m.shards)},
            {"metric": "bytes", "value": m.bytes}] + stats.rows()
    create_table_artifact(key=artifact_key(f"{m.dataset}-stats"), table=rows,
                          description=f"Statistics of {m.ref}")
    for name, table in stats.tables.items():
        create_table_artifact(key=artifact_key(f"{m.dataset}-{name}"), table=table,
                              description=f"{name} of {m.ref}")
    create_markdown_artifact(key=artifact_key(f"{m.dataset}-lineage"), markdown=to_markdown(store.lineage(m)),
                             description=f"Lineage of {m.ref}")
