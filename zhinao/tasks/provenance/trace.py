"""`zhinao trace DOC`: one document's way through the latest versions, read from what the stages
wrote as they ran (their outputs, drop records and token-shard document indexes), never by
recomputing anything.

The walk starts at the versions with no parent among the latest ones (the crawl's ingest) and
follows children while the document is kept. At each version it is kept (with what the stage
changed and where it sits: shard and row), dropped (reason and signals; for a duplicate, the
kept twin and the cluster), or gone without a record (a stage that does not record drops). Rows
made from it elsewhere (a rewrite, synthetic items: any `*_from` column) are listed; token
shards give its token ranges, and the models downstream of those shards trained on it."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..store import Manifest, Store
from ..store.graph import adjacency, latest_subgraph, layers

SHOWN_CHARS = 240               # a changed text value is shown cut to this
MATCHES_SHOWN = 10
DOC_INDEX = ".docs.parquet"     # token shards' document index (zhinao/tasks/tokens/pack.py)


@dataclass
class Walk:
    store: Store
    order: list[Manifest]                       # document versions, parents before children
    children: dict[str, list[str]]
    parents: dict[str, list[str]]
    by_version: dict[str, Manifest] = field(default_factory=dict)


def _walk(store: Store) -> Walk:
    rows, keep, edges = latest_subgraph(store.catalog)
    edges = [(p, c) for p, c in edges if p in keep and c in keep]
    column = layers(sorted(keep), edges)
    order = [m for m in (store.catalog.get(v) for v in sorted(keep, key=lambda v: (column[v], rows[v]["dataset"])))
             if m is not None]
    ups, downs = adjacency(edges)
    return Walk(store, order, downs, ups, {m.version: m for m in order})


def _columns(m: Manifest) -> set[str]:
    return {f["name"] for f in m.schema}


def _is_documents(m: Manifest) -> bool:
    return m.kind == "dataset" and "id" in _columns(m)


def _read(store: Store, path: str, columns: list[str] | None = None) -> pa.Table:
    with store.root.fs.open_input_file(path) as fh:
        return pq.read_table(fh, columns=columns)


def _find(store: Store, m: Manifest, column: str, value: str) -> list[tuple[str, int]]:
    """(shard, row) of every row of `m` whose `column` equals `value`."""
    out = []
    for shard, path in zip(m.shards, store.shard_paths(m)):
        if not shard.rows:
            continue
        hits = pc.indices_nonzero(pc.equal(_read(store, path, [column])[column], value)).to_pylist()
        out += [(shard.path, i) for i in hits]
    return out


def _ids_where(store: Store, m: Manifest, column: str, value: str) -> list[str]:
    out = []
    for shard, path in zip(m.shards, store.shard_paths(m)):
        if shard.rows:
            t = _read(store, path, list(dict.fromkeys(["id", column])))
            out += t.filter(pc.equal(t[column], value))["id"].to_pylist()
    return out


def _row(store: Store, m: Manifest, shard: str, i: int) -> dict[str, Any]:
    return _read(store, store.root.join(m.folder, shard)).slice(i, 1).to_pylist()[0]


def drop_record(store: Store, m: Manifest) -> pa.Table | None:
    if not m.drops:
        return None
    return pa.concat_tables([_read(store, store.root.join(m.folder, s.path)) for s in m.drops])


def _shown(value: Any) -> Any:
    if isinstance(value, str) and len(value) > SHOWN_CHARS:
        return value[:SHOWN_CHARS] + f" ... ({len(value):,} chars)"
    if isinstance(value, bytes):
        return f"<{len(value):,} bytes>"
    if isinstance(value, list) and len(value) > 8:
        return f"<{len(value)} values>"
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def _changes(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, Any]:
    """Columns a stage added or changed; at the first stage every column."""
    if before is None:
        return {k: _shown(v) for k, v in after.items() if k not in ("html",)}
    return {k: _shown(v) for k, v in after.items() if k not in before or before[k] != v}


# ---- which document ----------------------------------------------------------------------------
def resolve(walk: Walk, doc: str) -> tuple[str, list[dict[str, Any]]]:
    """(how DOC matched: id | url | text | none, the matching documents {id, url, ref})."""
    store, docs = walk.store, [m for m in walk.order if _is_documents(m)]
    for how, column in (("id", "id"), ("url", "url")):
        for m in docs:
            found = set(_ids_where(store, m, column, doc)) if column in _columns(m) else set()
            record = drop_record(store, m)
            if record is not None:
                found |= set(record.filter(pc.equal(record[column], doc))["id"].to_pylist())
            if found:
                return how, [{"id": d, "ref": m.ref} for d in sorted(found)]
    for m in docs:                  # a snippet: the first version whose text holds it
        if "text" not in _columns(m):
            continue
        matches = []
        for shard, path in zip(m.shards, store.shard_paths(m)):
            t = _read(store, path, ["id", "text", "url"] if "url" in _columns(m) else ["id", "text"])
            hits = t.filter(pc.match_substring(pc.fill_null(t["text"], ""), doc))
            matches += [{"id": r["id"], "url": r.get("url"), "ref": m.ref} for r in hits.to_pylist()]
        if matches:
            return "text", matches
    return "none", []


def dropped_for(store: Store, reason: str) -> str | None:
    """The id of the first document (in stage order) the latest versions dropped for `reason`, or
    for a reason starting with it (`gopher_quality`)."""
    for m in _walk(store).order:
        record = drop_record(store, m) if _is_documents(m) else None
        if record is not None:
            for r in record.to_pylist():
                if r["id"] and (r["drop_reason"] == reason or r["drop_reason"].startswith(reason + ".")):
                    return r["id"]
    return None


# ---- the walk ----------------------------------------------------------------------------------
def trace(store: Store, doc: str) -> dict[str, Any]:
    walk = _walk(store)
    how, matches = resolve(walk, doc)
    out: dict[str, Any] = {"query": doc, "matched_by": how, "matches": matches[:MATCHES_SHOWN],
                           "more_matches": max(0, len(matches) - MATCHES_SHOWN), "steps": [], "tokens": [],
                           "models": []}
    ids = sorted({m["id"] for m in matches})
    if len(ids) != 1:
        return out
    doc_id = out["id"] = ids[0]
    kept: dict[str, dict[str, Any]] = {}        # version -> the document's row there
    for m in walk.order:
        parents = [p for p in walk.parents.get(m.version, []) if p in walk.by_version]
        came_in = [p for p in parents if p in kept]
        if m.kind == "tokens":
            if came_in:
                _tokens(store, m, doc_id, out)
            continue
        if not _is_documents(m) or (parents and not came_in):
            continue
        step = _step(store, m, doc_id, kept[came_in[0]] if came_in else None, kept)
        if step is not None:
            out["steps"].append(step)
        elif came_in:
            out["steps"].append({"ref": m.ref, "stage": m.stage, "status": "gone",
                                 "note": "neither in its output nor among its drops (a stage that reads a sample, "
                                         "or a version made before drop records)"})
    derived = [d for s in out["steps"] for d in s.get("derived", [])]
    out["derived"] = derived
    return out


def _step(store: Store, m: Manifest, doc_id: str, before: dict | None, kept: dict) -> dict[str, Any] | None:
    at = _find(store, m, "id", doc_id)
    base = {"ref": m.ref, "stage": m.stage}
    derived = _derived(store, m, doc_id)
    if at:
        row = _row(store, m, *at[0])
        kept[m.version] = row
        return base | {"status": "kept", "at": [{"shard": s, "row": i} for s, i in at],
                       "changes": _changes(before, row)} | ({"derived": derived} if derived else {})
    record = drop_record(store, m)
    if record is not None:
        mine = record.filter(pc.equal(record["id"], doc_id)).to_pylist()
        if mine:
            r = mine[0]
            signals = json.loads(r["signals"] or "{}")
            step = base | {"status": "dropped", "reason": r["drop_reason"], "signals": signals,
                           **_decided_by(m, r["drop_reason"], signals)}
            if r["dup_of"]:
                twins = record.filter(pc.equal(record["dup_of"], r["dup_of"]))["id"].to_pylist()
                twin = _find(store, m, "id", r["dup_of"])
                step |= {"kept_twin": r["dup_of"], "cluster": [r["dup_of"]] + sorted(twins),
                         "twin_url": _row(store, m, *twin[0]).get("url") if twin else None}
            return step
    if derived:
        return base | {"status": "derived", "derived": derived}
    return None


def _decided_by(m: Manifest, reason: str, signals: dict[str, Any]) -> dict[str, Any]:
    """The signals a rule is named after and its limit among the version's params: the filters name
    reasons `<filter>.<min|max>_<signal>` and their params `<filter>: {<min|max>_<signal>: limit}`."""
    *path, rule = reason.split(".")
    key = rule.removeprefix("min_").removeprefix("max_")
    by = {k: v for k, v in signals.items() if k.endswith(key)}
    limit: Any = m.params
    for part in path + [rule]:
        limit = limit.get(part) if isinstance(limit, dict) else None
    out = {"decided_by": by} if by else {}
    return out | ({"limit": {rule: limit}} if isinstance(limit, (int, float)) and not isinstance(limit, bool) else {})


def _derived(store: Store, m: Manifest, doc_id: str) -> list[dict[str, Any]]:
    """Rows of `m` made from the document (a rewrite, synthetic items): `*_from` columns."""
    out = []
    for column in sorted(c for c in _columns(m) if c.endswith("_from")):
        out += [{"id": i, "column": column, "ref": m.ref} for i in _ids_where(store, m, column, doc_id)]
    return out


def _tokens(store: Store, m: Manifest, doc_id: str, out: dict[str, Any]) -> None:
    ranges = []
    for s in m.shards:
        if s.path.endswith(DOC_INDEX):
            index = _read(store, store.root.join(m.folder, s.path))
            for r in index.filter(pc.equal(index["id"], doc_id)).to_pylist():
                ranges.append({"file": s.path.removesuffix(DOC_INDEX) + ".bin", "start": r["start"], "end": r["end"]})
    if not ranges:
        return
    out["tokens"].append({"ref": m.ref, "ranges": ranges, "tokens": sum(r["end"] - r["start"] for r in ranges)})
    trained = []
    for d in store.downstream(m):
        if d.kind == "model":
            trained.append({"ref": d.ref, "stage": d.stage, "direct": m.ref in d.parents})
    out["models"] += [t for t in trained if t["ref"] not in {x["ref"] for x in out["models"]}]
