"""What the lineage pages show, as plain JSON-ready dicts built from the store and catalog alone
(no Prefect server needed): the version graph, one version's page, and the diff of two versions.
The HTML pages and their `/api/...` twins are both made from these."""
from __future__ import annotations

import os
from typing import Any

import pyarrow.parquet as pq

from zhinao.tasks.settings import get_settings
from zhinao.tasks.store import Manifest, Store
from zhinao.tasks.store.graph import adjacency, closure, latest_subgraph

from ...flows.lineage_view import source_lines
from ..prefect_env import DEFAULT_PORT, home_server_url
from .layout import positions
from ...flows.links import plots

SAMPLE_ROWS = 5
CELL_CHARS = 300          # a sample cell longer than this is cut (documents run to megabytes)


def brief(m: Manifest) -> dict[str, Any]:
    return {"ref": m.ref, "dataset": m.dataset, "version": m.version, "stage": m.stage, "kind": m.kind,
            "rows": m.rows, "bytes": m.bytes, "created_at": m.created_at}


# ---- the graph ---------------------------------------------------------------------------------
def graph(store: Store, focus: str | None = None, everything: bool = False) -> dict[str, Any]:
    """Nodes (with their drawing positions) and parent->child edges. By default the latest version
    of each dataset (zhinao/tasks/store/graph.py) with everything upstream of them; `focus`: a version with
    all it came from and all made from it; `everything`: the whole catalog."""
    rows, keep, edges = latest_subgraph(store.catalog)
    ups, downs = adjacency(edges)
    if everything:
        keep = set(rows)
    elif focus:
        centre = store.resolve(focus).version
        keep = closure([centre], ups) | closure([centre], downs)
    order = sorted(keep, key=lambda v: (rows[v]["created_at"], rows[v]["dataset"]))
    kept_edges = [(p, c) for p, c in edges if p in keep and c in keep]
    at = positions(order, kept_edges)
    nodes = [{"ref": f"{rows[v]['dataset']}@{v}", "version": v, "dataset": rows[v]["dataset"],
              "stage": rows[v]["stage"], "kind": rows[v]["kind"], "rows": rows[v]["rows"],
              "created_at": rows[v]["created_at"], "x": at[v][0], "y": at[v][1]} for v in order]
    return {"focus": focus, "everything": everything, "nodes": nodes,
            "edges": [{"parent": p, "child": c} for p, c in kept_edges]}


# ---- one version -------------------------------------------------------------------------------
def prefect_ui() -> str:
    """The Prefect UI a flow-run link points at: PREFECT_UI_URL, else the server this home's last
    `zhinao server` announced, else the default local server."""
    if os.environ.get("PREFECT_UI_URL"):
        return os.environ["PREFECT_UI_URL"].rstrip("/")
    api = os.environ.get("PREFECT_API_URL") or home_server_url(get_settings().prefect_home)
    return (api or f"http://127.0.0.1:{DEFAULT_PORT}/api").removesuffix("/").removesuffix("/api")


def _cell(value: Any) -> Any:
    if isinstance(value, bytes):
        return f"<{len(value):,} bytes>"
    if isinstance(value, str):
        return value if len(value) <= CELL_CHARS else value[:CELL_CHARS] + f" ... ({len(value):,} chars)"
    if isinstance(value, (list, dict)):
        text = repr(value)
        return value if len(text) <= CELL_CHARS else text[:CELL_CHARS] + " ..."
    return value


def sample_rows(store: Store, m: Manifest, n: int = SAMPLE_ROWS) -> list[dict[str, Any]]:
    """The first `n` rows, read a small batch at a time from the first Parquet shards (never a
    whole shard: shards run to hundreds of MB)."""
    out: list[dict[str, Any]] = []
    for path in store.shard_paths(m, verify=False):     # a page view reads a few rows, never hashes a version
        if not path.endswith(".parquet"):
            continue
        with store.root.fs.open_input_file(path) as fh:
            for batch in pq.ParquetFile(fh).iter_batches(batch_size=n - len(out)):
                out += [{k: _cell(v) for k, v in row.items()} for row in batch.to_pylist()]
                if len(out) >= n:
                    return out
    return out


def version(store: Store, ref: str) -> dict[str, Any]:
    m = store.resolve(ref)
    stats = dict(m.stats)
    tables = {k: v for k, v in stats.get("tables", {}).items() if k != "plots"}
    rows_in = stats.get("counters", {}).get("rows_in")
    drops = [{"reason": r, "rows": n, "share": (n / rows_in) if rows_in else None}
             for r, n in sorted(stats.get("dropped", {}).items(), key=lambda kv: -kv[1])]
    others = [brief(o) for o in store.catalog.find(m.dataset) if o.version != m.version]
    damaged = [str(p) for p in store.verify(m, content=False, mark=False)]
    return {
        "damaged": damaged,
        **brief(m), "params": m.params, "code": m.code, "parents": [brief(p) for p in store.parents(m)],
        "children": [brief(c) for c in store.children(m)], "sources": m.sources,
        "sources_summary": source_lines(m, listed=False), "schema": m.schema,
        "shards": [{"path": s.path, "rows": s.rows, "bytes": s.bytes} for s in m.shards],
        "counters": stats.get("counters", {}), "drops": drops, "rows_in": rows_in,
        "histograms": stats.get("histograms", {}), "tables": tables, "plots": plots(m),
        "sample": [] if damaged else sample_rows(store, m), "timings": m.timings, "other_versions": others,
        "flow_run_id": m.flow_run_id,
        "flow_run_url": f"{prefect_ui()}/runs/flow-run/{m.flow_run_id}" if m.flow_run_id else None,
    }


# ---- two versions ------------------------------------------------------------------------------
def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _changes(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "a": a.get(k), "b": b.get(k)} for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


class DiffError(ValueError):
    pass


def diff(store: Store, a_ref: str, b_ref: str) -> dict[str, Any]:
    """Two versions of one stage side by side: what differs in params, code, sources, stats,
    schema, and rows in and out."""
    a, b = store.resolve(a_ref), store.resolve(b_ref)
    if a.stage != b.stage:
        raise DiffError(f"{a.ref} (stage {a.stage}) and {b.ref} (stage {b.stage}) are not versions of one stage")
    counters_a, counters_b = a.stats.get("counters", {}), b.stats.get("counters", {})
    fields_a = {f["name"]: f["type"] for f in a.schema}
    fields_b = {f["name"]: f["type"] for f in b.schema}
    source = lambda m: {str(s.get("name") or s.get("uri")): s.get("fingerprint") for s in m.sources}  # noqa: E731
    return {
        "a": brief(a), "b": brief(b), "stage": a.stage,
        "params": _changes(_flat(a.params), _flat(b.params)),
        "same_params": sorted(k for k, v in _flat(a.params).items() if _flat(b.params).get(k, object()) == v),
        "code": {"a": a.code, "b": b.code, "same": a.code == b.code},
        "sources": _changes(source(a), source(b)),
        "parents": {"a": a.parents, "b": b.parents, "same": a.parents == b.parents},
        "rows": {"in": {"a": counters_a.get("rows_in"), "b": counters_b.get("rows_in")},
                 "out": {"a": a.rows, "b": b.rows}, "bytes": {"a": a.bytes, "b": b.bytes}},
        "counters": _changes(counters_a, counters_b),
        "dropped": _changes(a.stats.get("dropped", {}), b.stats.get("dropped", {})),
        "schema": _changes(fields_a, fields_b),
    }
