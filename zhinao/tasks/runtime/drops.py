"""The drop record: what `zhinao trace` needs to say why a document left a stage, written beside
every version's shards as the stage runs (no audit, no rerun). One compact row per dropped row:
its id, reason, the kept document it duplicates (dedup) and its URL, and its small scalar columns
(the signals that decided it: scores, lengths, language) as one JSON object. Text, HTML and
vectors stay out: that is what `audit=true` is for."""
from __future__ import annotations

import json
import posixpath
from typing import Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..store.fs import Root
from ..store.manifest import Shard
from ..store.writer import write_shard

SCHEMA = pa.schema([("id", pa.string()), ("drop_reason", pa.string()), ("dup_of", pa.string()),
                    ("url", pa.string()), ("signals", pa.string())])
NAMED = ("id", "drop_reason", "dup_of", "url")
SHORT_STRING = 80           # longer string columns are content, not signals
FOLDER = "drops"            # inside the version's folder, listed in Manifest.drops


def _signal_columns(table: pa.Table, among: Sequence[str] | None) -> list[str]:
    keep = []
    for f in table.schema:
        if f.name in NAMED or (among is not None and f.name not in among):
            continue
        t = f.type
        if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
            keep.append(f.name)
        elif pa.types.is_string(t) or pa.types.is_large_string(t):
            longest = pc.max(pc.utf8_length(table[f.name])).as_py()
            if longest is None or longest <= SHORT_STRING:
                keep.append(f.name)
    return keep


def compact(table: pa.Table, signals: Sequence[str] | None = None) -> pa.Table:
    """Dropped rows (with `drop_reason`) as drop-record rows; `signals` names the columns the stage
    itself computed (None: every small scalar column), what the columns it inherited do not say."""
    n = table.num_rows

    def named(name: str) -> pa.Array:
        if name not in table.column_names:
            return pa.nulls(n, pa.string())
        return pc.cast(table[name], pa.string()).combine_chunks()

    rows = table.select(_signal_columns(table, signals)).to_pylist()
    signals = [json.dumps({k: v for k, v in r.items() if v is not None}, ensure_ascii=False,
                          separators=(",", ":"), default=str) for r in rows]
    return pa.Table.from_arrays([named(c) for c in NAMED] + [pa.array(signals, pa.string())], schema=SCHEMA)


def merge(root: Root, folder: str, shards: list[Shard]) -> list[Shard]:
    """The splits' drop-record files as one (a Parquet footer per split would cost more than the
    few rows most splits drop); `folder` is the version's staging folder."""
    if len(shards) < 2:
        return shards
    paths = [root.join(folder, s.path) for s in shards]
    tables = []
    for path in paths:
        with root.fs.open_input_file(path) as fh:
            tables.append(pq.read_table(fh))
    written = write_shard(root, posixpath.join(folder, FOLDER), "drops.parquet", pa.concat_tables(tables))
    for path in paths:
        root.fs.delete_file(path)
    return [Shard(path=posixpath.join(FOLDER, "drops.parquet"), rows=written.rows, bytes=written.bytes,
                  sha256=written.sha256)]
