"""Declaring a per-document stage over one input dataset: a batch function and the columns it adds."""
import pyarrow as pa
import pyarrow.parquet as pq
from typing import Any

from zhinao.tasks.declare import Plan, Stage
from zhinao.tasks.generate.rows import pick_documents
from zhinao.tasks.params import StageParams
from zhinao.tasks.runtime.mapper import BatchFn, ShardMap, output_schema


def input_shards(parents, store) -> tuple[list[dict[str, Any]], pa.Schema]:
    (parent,) = parents
    paths = store.shard_paths(parent)
    with store.root.fs.open_input_file(paths[0]) as fh:
        schema = pq.read_schema(fh)
    return [{"path": p, "root": store.root} for p in paths], schema


def sampled_shards(parents, store, limit: int, salt: str) -> list[dict[str, Any]]:
    """The input's shards, each with the `ids` of a deterministic sample of `limit` documents over
    the whole input (None: all); shards with none of them are left out."""
    splits, _ = input_shards(parents, store)
    for s, ids in zip(splits, pick_documents(store.root, [s["path"] for s in splits], limit, salt)):
        s["ids"] = ids
    return [s for s in splits if s["ids"] is None or s["ids"]]


def document_stage(name: str, params: type[StageParams], fn: BatchFn, added: tuple[pa.Field, ...],
                   code: tuple[str, ...], input: str, description: str, **kw: Any) -> Stage:
    def plan(p: StageParams, parents, store) -> Plan:
        splits, schema = input_shards(parents, store)
        out = output_schema(schema, added)
        for split in splits:
            split["schema"] = out
        return Plan(splits=splits, schema=out)

    process = ShardMap(fn, tuple(f.name for f in added))
    return Stage(name=name, params=params, plan=plan, process=process, schema=None, code=code,
                 inputs=(input,), description=description, **kw)
