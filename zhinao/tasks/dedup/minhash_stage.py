"""dedup-minhash: MinHash LSH near-duplicate removal, distributed on Ray end to end."""
import pyarrow as pa

from pydantic import Field, model_validator

from zhinao.tasks.declare import Plan, RunContext, Stage
from zhinao.tasks.dedup.components import connected_components, stars
from zhinao.tasks.dedup.lsh import attach, bucket, sign, verify
from zhinao.tasks.dedup.removal import apply_removals, resolve
from zhinao.tasks.params import NOT_IN_KEY, StageParams
from zhinao.tasks.runtime.docstage import input_shards
from zhinao.tasks.runtime.mapper import output_schema


ADDED = (pa.field("dup_cluster", pa.string()),)


class MinHashParams(StageParams):
    ngram: int = Field(5, gt=0, description="Shingle size: words for spaced languages, characters for CJK.")
    bands: int = Field(14, gt=0, description="LSH bands.")
    rows: int = Field(8, gt=0, description="Signature rows per band (bands x rows hash functions).")
    threshold: float = Field(0.75, ge=0, le=1, description="Candidate pairs are duplicates when their estimated "
                                                           "Jaccard similarity is at least this.")
    seed: int = Field(1, description="Seed of the hash functions.")
    partitions: int = Field(16, gt=0, description="Shuffle partitions per phase.", json_schema_extra=NOT_IN_KEY)

    @model_validator(mode="after")
    def _fits(self):
        if self.bands * self.rows > 1024:
            raise ValueError("bands x rows above 1024 hash functions is not a sensible MinHash setup")
        return self


def plan(params, parents, store) -> Plan:
    splits, schema = input_shards(parents, store)
    return Plan(splits=splits, schema=output_schema(schema, ADDED))


def run(ctx: RunContext):
    root, scratch, parts = ctx.store.root, ctx.scratch, ctx.params.partitions
    splits = [s | {"index": i, "scratch": scratch, "schema": ctx.plan.schema} for i, s in enumerate(ctx.plan.splits)]
    partitions = [{"root": root, "scratch": scratch, "partition": p, "partitions": parts} for p in range(parts)]
    stats = [r.stats for r in ctx.map(sign, splits, "signatures")]
    stats += [r.stats for r in ctx.map(bucket, partitions, "LSH buckets")]
    ctx.map(attach, splits, "candidate signatures")
    stats += [r.stats for r in ctx.map(verify, splits, "verify")]
    final_edges, component_stats = connected_components(ctx.map, partitions, f"{scratch}/cc")
    stats.append(component_stats)
    stats += [r.stats for r in ctx.map(stars, [p | {"source": final_edges} for p in partitions], "clusters")]
    ctx.map(resolve, splits, "representatives")
    final = ctx.final(apply_removals, [s | {"reason": "near_duplicate", "added": {
        "dup_cluster": root.join(f"{scratch}/values/s{s['index']:05d}/dup_cluster.parquet")}} for s in splits])
    for s in stats:
        final[0].stats.merge(s)
    return final


DEDUP_MINHASH = Stage(
    name="dedup-minhash", tags=("data",), pipeline="data", params=MinHashParams, plan=plan, process=None, schema=None, run=run,
    code=("zhinao.tasks.dedup.minhash", "zhinao.tasks.dedup.shingles", "zhinao.tasks.dedup.lsh", "zhinao.tasks.dedup.components",
          "zhinao.tasks.dedup.shuffle", "zhinao.tasks.dedup.removal", "zhinao.tasks.runtime.mapper"),
    inputs=("dedup-exact",),
    description="MinHash LSH near-duplicate removal: signatures, band buckets, verified candidate pairs and "
                "connected components, all as Ray tasks over scratch partitions.")
