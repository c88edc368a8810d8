"""dedup-exact: drop documents whose normalized text equals an earlier document's."""
import pyarrow as pa

from pydantic import Field

from zhinao.tasks.declare import Plan, RunContext, Stage
from zhinao.tasks.dedup.exact import group_partition, hash_shard
from zhinao.tasks.dedup.removal import apply_removals
from zhinao.tasks.params import StageParams
from zhinao.tasks.runtime.docstage import input_shards
from zhinao.tasks.runtime.mapper import output_schema


ADDED = (pa.field("text_hash", pa.string()),)


class ExactDedupParams(StageParams):
    partitions: int = Field(16, gt=0, description="Hash partitions grouped in parallel (more for bigger corpora).",
                            json_schema_extra={"cache_key": False})


def plan(params, parents, store) -> Plan:
    splits, schema = input_shards(parents, store)
    return Plan(splits=splits, schema=output_schema(schema, ADDED))


def run(ctx: RunContext):
    root, scratch = ctx.store.root, ctx.scratch
    splits = [s | {"index": i, "scratch": scratch, "schema": ctx.plan.schema} for i, s in enumerate(ctx.plan.splits)]
    ctx.map(hash_shard, splits, "hash")
    grouped = ctx.map(group_partition, [{"root": root, "scratch": scratch, "partition": p}
                                        for p in range(ctx.params.partitions)], "group")
    final = ctx.final(apply_removals, [s | {"reason": "exact_duplicate", "added": {
        "text_hash": root.join(f"{scratch}/values/s{s['index']:05d}/text_hash.parquet")}} for s in splits])
    for g in grouped:
        final[0].stats.merge(g.stats)
    return final


DEDUP_EXACT = Stage(
    name="dedup-exact", tags=("data",), pipeline="data", params=ExactDedupParams, plan=plan, process=None, schema=None, run=run,
    code=("zhinao.tasks.dedup.exact", "zhinao.tasks.dedup.removal", "zhinao.tasks.runtime.mapper"), inputs=("quality",),
    description="Exact dedup on a hash of the normalized text; the earliest copy is kept.")
