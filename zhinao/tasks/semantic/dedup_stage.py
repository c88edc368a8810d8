"""dedup-semantic: SemDeDup over the embed version of the same documents."""
import pyarrow as pa

from pydantic import Field

from zhinao.tasks.declare import Plan, RunContext, Stage
from zhinao.tasks.dedup.removal import apply_removals, resolve
from zhinao.tasks.params import NOT_IN_KEY, StageParams
from zhinao.tasks.runtime.docstage import input_shards
from zhinao.tasks.runtime.mapper import output_schema
from zhinao.tasks.semantic.semdedup import assign, dedup, train


ADDED = (pa.field("semantic_cluster", pa.string()),)


class SemanticDedupParams(StageParams):
    eps: float = Field(0.05, gt=0, lt=1, description="Documents whose cosine similarity to an earlier-ranked "
                                                     "member of their cluster exceeds 1 - eps are removed.")
    cluster_size: int = Field(100, gt=1, description="Target documents per k-means cluster (k = documents / this).")
    clusters: int | None = Field(None, gt=0, description="Number of k-means clusters (overrides cluster_size).")
    niter: int = Field(20, gt=0, description="k-means iterations.")
    max_train: int = Field(200_000, gt=0, description="Embeddings sampled to train k-means.")
    seed: int = 1
    partitions: int = Field(16, gt=0, json_schema_extra=NOT_IN_KEY)


def plan(params, parents, store) -> Plan:
    docs, embeddings = parents
    if docs.ref not in embeddings.parents:
        raise ValueError(f"{embeddings.ref} embeds {embeddings.parents}, not {docs.ref}: run `embed` on it first")
    splits, schema = input_shards([docs], store)
    embed_paths = store.shard_paths(embeddings)
    if len(embed_paths) != len(splits):
        raise ValueError(f"{embeddings.ref} has {len(embed_paths)} shards for {len(splits)} document shards")
    for s, e in zip(splits, embed_paths):
        s["embed_path"] = e
    return Plan(splits=splits, schema=output_schema(schema, ADDED), info={"rows": docs.rows})


def run(ctx: RunContext):
    root, scratch, parts = ctx.store.root, ctx.scratch, ctx.params.partitions
    splits = [s | {"index": i, "scratch": scratch, "schema": ctx.plan.schema} for i, s in enumerate(ctx.plan.splits)]
    stats = [r.stats for r in ctx.map(train, [{"root": root, "scratch": scratch, "rows": ctx.plan.info["rows"],
                                              "embed_paths": [s["embed_path"] for s in splits]}], "k-means")]
    ctx.map(assign, splits, "assign clusters")
    partitions = [{"root": root, "scratch": scratch, "partition": p} for p in range(parts)]
    stats += [r.stats for r in ctx.map(dedup, partitions, "within-cluster similarity")]
    ctx.map(resolve, [s | {"column": "semantic_cluster"} for s in splits], "representatives")
    final = ctx.final(apply_removals, [s | {"reason": "semantic_duplicate", "added": {
        "semantic_cluster": root.join(f"{scratch}/values/s{s['index']:05d}/semantic_cluster.parquet")}}
        for s in splits])
    for s in stats:
        final[0].stats.merge(s)
    return final


DEDUP_SEMANTIC = Stage(
    name="dedup-semantic", tags=("data",), pipeline="data", params=SemanticDedupParams, plan=plan, process=None, schema=None, run=run,
    code=("zhinao.tasks.semantic.semdedup", "zhinao.tasks.dedup.removal", "zhinao.tasks.dedup.shuffle", "zhinao.tasks.runtime.mapper"),
    inputs=("dedup-minhash", "embed"),
    description="SemDeDup: k-means over the embed version, removal of near-identical meaning within clusters.")
