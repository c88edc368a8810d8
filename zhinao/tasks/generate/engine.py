"""Generation over rows as a stage process: rows -> requests -> batches on one generator -> parsed
output rows (or drop reasons), with finished batches kept for retries (resume.py).

A job is two functions: `build(row, params)` makes the row's requests, `parse(row, completions,
params)` turns their completions into output rows; an output row with a `drop_reason` is counted
and audited instead of kept.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable

import pyarrow as pa
import pyarrow.parquet as pq

from ..runtime.mapper import conform
from ..runtime.sink import ShardSink
from ..stats import StageStats
from .api import Completion, Request
from .resume import BatchCache, batch_key
from .service import get_generator

Build = Callable[[dict, Any], list[Request]]
Parse = Callable[[dict, list[Completion], Any], list[dict]]

_TOKENS = (pa.field("_prompt_tokens", pa.int64()), pa.field("_completion_tokens", pa.int64()))


def request_seed(base: int, *parts: object) -> int:
    """A per-request seed from the stage seed and what the request is for: reruns sample alike."""
    return int.from_bytes(hashlib.sha256(repr((base,) + parts).encode()).digest()[:4], "little")


@dataclass(frozen=True)
class GenJob:
    name: str
    build: Build
    parse: Parse


def read_rows(split: dict) -> list[dict]:
    """Rows of a split: inline (`rows`) or a Parquet file in the store (`path`, optional `ids`)."""
    if "rows" in split:
        return list(split["rows"])
    root = split["root"]
    with root.fs.open_input_file(split["path"]) as fh:
        table = pq.read_table(fh, columns=split.get("columns"))
    rows = table.to_pylist()
    if split.get("ids") is not None:
        wanted = set(split["ids"])
        rows = [r for r in rows if r["id"] in wanted]
    return rows


@dataclass(frozen=True)
class GenerateRows:
    """The process: split = {rows | path (+ids), root, spec, schema, resume}."""
    job: GenJob

    def __call__(self, split: dict, params: Any, sink: ShardSink, stats: StageStats) -> None:
        rows = read_rows(split)
        schema: pa.Schema = split["schema"]
        audit = schema.append(pa.field("drop_reason", pa.string()))
        full = audit.append(_TOKENS[0]).append(_TOKENS[1])
        cache = BatchCache(split["root"], split.get("resume"))
        kept, dropped = [], []
        size = max(1, params.batch_size)
        for start in range(0, len(rows), size):
            batch = rows[start:start + size]
            key = batch_key(self.job.name, [r["id"] for r in batch])
            table = cache.get(key)
            if table is None:
                table = conform(pa.Table.from_pylist(self._run(batch, params, split["spec"]), schema=full), full)
                cache.put(key, table)
            else:
                stats.count("batches_resumed")
            stats.count("rows_in", len(batch))
            stats.count("batches")
            stats.count("prompt_tokens", pa.compute.sum(table["_prompt_tokens"]).as_py() or 0)
            stats.count("completion_tokens", pa.compute.sum(table["_completion_tokens"]).as_py() or 0)
            mask = pa.compute.is_null(table["drop_reason"])
            good, bad = table.filter(mask), table.filter(pa.compute.invert(mask))
            stats.count("rows_out", good.num_rows)
            for reason in bad["drop_reason"].to_pylist():
                stats.drop(reason)
            kept.append(conform(good, schema))
            if bad.num_rows:
                dropped.append(conform(bad, audit))
        if kept:
            sink.write(pa.concat_tables(kept))
        if dropped:
            sink.drop(pa.concat_tables(dropped))

    def _run(self, batch: list[dict], params: Any, spec) -> list[dict]:
        gen = get_generator(spec)
        requests = [self.job.build(r, params) for r in batch]
        flat = [q for qs in requests for q in qs]
        completions = gen.generate(flat) if flat else []
        out, k = [], 0
        for row, qs in zip(batch, requests):
            mine = completions[k:k + len(qs)]
            k += len(qs)
            produced = self.job.parse(row, mine, params)
            for i, o in enumerate(produced):
                # tokens are booked once per input row, on its first output row
                o["_prompt_tokens"] = sum(c.prompt_tokens for c in mine) if i == 0 else 0
                o["_completion_tokens"] = sum(c.completion_tokens for c in mine) if i == 0 else 0
            out.extend(produced)
        return out
