"""long-data's one task: documents joined into long samples (join.py), then short chat samples
added at `chat_share` of the rows, chosen by a salted hash of their ids (the same ones on every
run). One task, read shard by shard: long-context data is thousands of samples, and memory holds at
most one pending sample per group."""
from __future__ import annotations

import heapq
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..chat.schema import MESSAGE, message_problem
from ..runtime.sampling import unit_hash
from ..stats import StageStats
from .join import join_documents

LONG = pa.schema([("id", pa.string()), ("kind", pa.string()), ("text", pa.string()),
                  ("messages", pa.list_(MESSAGE)), ("lang", pa.string()), ("group", pa.string()),
                  ("parts", pa.int32()), ("chars", pa.int64())])
CHAT_SALT = "long-data/chat"


def _rows(root, paths: list[str], columns: list[str]):
    for path in paths:
        with root.fs.open_input_file(path) as fh:
            file = pq.ParquetFile(fh)
            names = file.schema_arrow.names
            for batch in file.iter_batches(columns=[c for c in columns if c in names]):
                yield from batch.to_pylist()


def chat_count(long_rows: int, share: float) -> int:
    """Chat rows that make `share` of all rows beside `long_rows` long ones."""
    return round(long_rows * share / (1 - share)) if share else 0


def build_split(split: dict[str, Any], p: Any, sink, stats: StageStats) -> None:
    root, long_rows, chars = split["root"], 0, 0
    docs = _rows(root, split["docs"], ["id", "text", "lang", p.group_by])
    batch = []
    for out in join_documents(docs, p.min_chars, p.group_by):
        if isinstance(out, tuple):
            stats.drop(out[0], out[1])
            continue
        batch.append(out)
        long_rows, chars = long_rows + 1, chars + out["chars"]
        if p.max_samples and long_rows >= p.max_samples:
            break
        if len(batch) >= 256:
            sink.write(pa.Table.from_pylist(batch, schema=LONG))
            batch = []
    want = chat_count(long_rows, p.chat_share)
    available = 0

    def usable():
        nonlocal available
        for r in _rows(root, split["chat"], ["id", "messages", "lang"]):
            problem = message_problem(r.get("messages"))
            if problem:
                stats.drop(f"chat_{problem}")
                continue
            available += 1
            yield unit_hash(str(r["id"]), p.seed, CHAT_SALT), str(r["id"]), r

    chats = heapq.nsmallest(want, usable(), key=lambda c: c[:2])      # holds `want` rows at most
    for _, _, r in chats:
        batch.append({"id": str(r["id"]), "kind": "chat", "text": None, "messages": r["messages"], "lang": r.get("lang"),
                      "group": "chat", "parts": 1, "chars": sum(len(m["content"]) for m in r["messages"])})
    if batch:
        sink.write(pa.Table.from_pylist(batch, schema=LONG))
    taken = len(chats)
    stats.count("long_samples", long_rows)
    stats.count("long_chars", chars)
    stats.count("chat_samples", taken)
    stats.count("chat_available", available)
    if split["chat"] and taken < want:
        stats.count("chat_short_of_share", want - taken)
    stats.table("mix", [{"kind": "long", "rows": long_rows, "mean_chars": chars / long_rows if long_rows else 0},
                        {"kind": "chat", "rows": taken, "share": taken / (taken + long_rows) if taken + long_rows else 0}])
