"""The mix stage's Ray phases.

1. measure: each source shard -> rows filtered and formatted, token counts, a token-weighted
   histogram of id hashes (so a fractional epoch can be cut to a token budget exactly).
2. scatter: each row repeated floor(epochs) times, plus once more when its hash is under the
   fractional epoch's threshold; every copy gets a random sort key and goes to a partition.
3. gather: each partition sorted by key and cut into shards of about `shard_tokens` tokens.
"""
from __future__ import annotations

import string
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash

from ..dedup.shuffle import read_partition, write_partitioned
from ..runtime.sampling import bucket, taken
from ..stats import StageStats
from ..store.writer import write_shard
from .tokens import count_tokens

SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("lang", pa.string()), ("topic", pa.string()),
                    ("mix_source", pa.string()), ("origin", pa.string()), ("tokens", pa.int64()),
                    ("epoch", pa.int32())])
_SHUFFLED = SCHEMA.append(pa.field("_key", pa.uint64()))


def _filter(table: pa.Table, where: dict) -> pa.Table:
    for column, value in where.items():
        values = value if isinstance(value, list) else [value]
        table = table.filter(pc.is_in(table[column].cast(pa.string()), pa.array(values, pa.string())))
    return table


def _format(template: str, rows: list[dict]) -> list[str]:
    fmt = string.Formatter()
    return [fmt.vformat(template, (), {k: ("" if v is None else v) for k, v in r.items()}).strip() for r in rows]


def measure(split: dict, params: Any, sink, stats: StageStats) -> None:
    """split: root, path, source (name), origin (ref), columns, where, text, topic_column, norm (file)."""
    root, src = split["root"], split["source"]
    with root.fs.open_input_file(split["path"]) as fh:
        names = pq.read_schema(fh).names
        missing = [c for c in split["columns"] if c not in names]
        if missing:
            raise ValueError(f"mix source {src!r}: {split['origin']} has no column(s) {missing}")
        table = pq.read_table(fh, columns=sorted(set(split["columns"]) | {"id"} | ({"lang"} & set(names))))
    stats.count(f"docs_in.{src}", table.num_rows)
    for column in split["where"]:     # the values the filter saw: an emptied source can say how to widen it
        for v in pc.value_counts(table[column].cast(pa.string())).to_pylist():
            stats.observe(f"where/{src}/{column}", v["values"], v["counts"])
    table = _filter(table, split["where"])
    stats.count(f"docs_where.{src}", table.num_rows)
    rows = table.to_pylist()
    texts = _format(split["text"], rows)
    keep = [i for i, t in enumerate(texts) if t]
    stats.count(f"empty_text.{src}", len(rows) - len(keep))
    rows, texts = [rows[i] for i in keep], [texts[i] for i in keep]
    tokens = count_tokens(texts, params.tokenizer)
    topic = split["topic_column"]
    out = pa.table({"id": [r["id"] for r in rows], "text": texts, "lang": [r.get("lang") for r in rows],
                    "topic": [r.get(topic) if topic else None for r in rows], "mix_source": [src] * len(rows),
                    "origin": [split["origin"]] * len(rows), "tokens": tokens, "epoch": [0] * len(rows)},
                   schema=SCHEMA)
    write_shard(root, split["norm"].rsplit("/", 1)[0], split["norm"].rsplit("/", 1)[1], out)
    stats.count(f"tokens.{src}", sum(tokens))
    stats.count(f"docs.{src}", len(rows))
    for doc_id, n in zip(out["id"].to_pylist(), tokens):
        stats.observe(f"hash/{src}", bucket(doc_id, params.seed, f"mix/{src}"), n)


def scatter(split: dict, params: Any, sink, stats: StageStats) -> None:
    """split: root, norm, full (whole epochs), threshold (fractional epoch), folder, name."""
    root = split["root"]
    with root.fs.open_input_file(split["norm"]) as fh:
        table = pq.read_table(fh)
    ids = table["id"].to_pylist()
    extra = [taken(i, params.seed, f"mix/{split['source']}", split["threshold"]) for i in ids]
    take, epochs = [], []
    for row, more in enumerate(extra):
        for k in range(split["full"] + int(more)):
            take.append(row)
            epochs.append(k)
    copies = table.take(pa.array(take, pa.int64())).set_column(SCHEMA.get_field_index("epoch"), "epoch",
                                                               pa.array(epochs, pa.int32()))
    src = split["source"]
    keys = np.array([xxhash.xxh64_intdigest(f"{src}\x00{ids[r]}\x00{k}", seed=params.seed)
                     for r, k in zip(take, epochs)], dtype=np.uint64)
    copies = copies.append_column("_key", pa.array(keys, pa.uint64()))
    stats.count(f"copies.{src}", copies.num_rows)
    parts = (keys % np.uint64(params.partitions)).astype(np.int64)
    write_partitioned(root, split["folder"], split["name"], copies, parts)


def gather(split: dict, params: Any, sink, stats: StageStats) -> None:
    """split: root, folder, partition. Writes the partition's rows in key order, in shards of
    about params.shard_tokens tokens."""
    table = read_partition(split["root"], split["folder"], split["partition"], _SHUFFLED)
    if not table.num_rows:
        return
    table = table.take(pc.sort_indices(table, [("_key", "ascending")])).drop(["_key"])
    tokens = np.cumsum(table["tokens"].to_numpy())
    cuts = [0]
    while cuts[-1] < table.num_rows:
        start_tokens = tokens[cuts[-1] - 1] if cuts[-1] else 0
        nxt = int(np.searchsorted(tokens, start_tokens + params.shard_tokens, side="left")) + 1
        cuts.append(min(max(nxt, cuts[-1] + 1), table.num_rows))
    for a, b in zip(cuts, cuts[1:]):
        sink.write(table.slice(a, b - a))
    for src, n in zip(table["mix_source"].to_pylist(), table["tokens"].to_pylist()):
        stats.count(f"mixed_tokens.{src}", n)
    stats.count("rows_out", table.num_rows)
