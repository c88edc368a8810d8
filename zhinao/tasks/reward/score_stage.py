"""rm-score: reward-model scores of (prompt, response) samples; per category, samples below
(mean - k * std) are dropped. Per-category figures in the artifact, histograms as a plot.
`reward_filter_stage` is that stage for any input: rm-filter (zhinao/tasks/reward/filter_stage.py) runs it on chat data."""
import pyarrow as pa
import pyarrow.parquet as pq
from typing import Literal

from pydantic import Field

from zhinao.tasks.declare import Plan, Stage
from zhinao.tasks.generate.models import model_sources, resolve_model
from zhinao.tasks.params import NAMES_VERSION, NOT_IN_KEY, StageParams
from zhinao.tasks.reward.filter import category_thresholds, plot_histograms
from zhinao.tasks.reward.scoring import filter_shard, score_shard
from zhinao.tasks.runtime.docstage import input_shards
from zhinao.tasks.runtime.mapper import output_schema
from zhinao.tasks.runtime.ray_exec import Actors
from zhinao.tasks.settings import get_settings


class RMScoreParams(StageParams):
    reward_model: str = Field("reward-model", description="Reward model: a local HF sequence-classification "
                              "folder (one output) or a model version in the store (DATASET or DATASET@VERSION); "
                              "default: the latest `reward-model` version (post-training's reward model). Its "
                              "version (a parent) or its files are in the version id, not this name.",
                              json_schema_extra={**NOT_IN_KEY, **NAMES_VERSION})
    category_column: str = Field("kind", description="Column whose values are the categories of the rule.")
    prompt_column: str = "prompt"
    response_column: str = "response"
    k_std: float = Field(1.0, ge=0, description="Drop samples below (category mean - k_std * category std).")
    max_length: int = Field(1024, gt=0, description="Tokens of prompt + response the reward model reads.")
    batch_size: int = Field(16, gt=0, json_schema_extra=NOT_IN_KEY)
    device: Literal["auto", "cpu", "cuda"] = Field("auto", json_schema_extra=NOT_IN_KEY)


def read_columns(p: RMScoreParams) -> set[str]:
    column = getattr(p, "messages_column", None)
    return {p.category_column} | ({column} if column else {p.prompt_column, p.response_column})


def plan(p: RMScoreParams, parents, store) -> Plan:
    path, model_parents = resolve_model(p.reward_model, store)   # same resolution rules as generators
    splits, schema = input_shards(parents, store)
    missing = read_columns(p) - set(schema.names)
    if missing:
        raise ValueError(f"input {parents[0].ref} has no column(s) {sorted(missing)} for the reward model to read")
    for s in splits:
        s["model_path"] = str(path)
    sources = model_sources(path)
    return Plan(splits=splits, sources=sources, schema=output_schema(schema, (pa.field("rm_score", pa.float32()),)),
                parents=model_parents)


def run(ctx):
    p, root = ctx.params, ctx.store.root
    folder = f"{ctx.scratch}/scored"
    scored = ctx.map(score_shard, ctx.plan.splits, "score", output=folder, actors=Actors(gpus=1))
    paths = [root.join(folder, s.path) for r in scored for s in r.shards]
    cats, scores = [], []
    for path in paths:
        t = pq.read_table(path, columns=[p.category_column, "rm_score"], filesystem=root.fs)
        cats += [c if c is not None else "(none)" for c in t[p.category_column].cast(pa.string()).to_pylist()]
        scores += t["rm_score"].to_pylist()
    stats = category_thresholds(cats, scores, p.k_std)
    splits = [{"root": root, "path": path, "schema": ctx.plan.schema,
               "thresholds": {c: s["threshold"] for c, s in stats.items()}} for path in paths]
    results = ctx.final(filter_shard, splits, desc="filter")
    kept_by: dict[str, int] = {}
    for path in [root.join(ctx.output, s.path) for r in results for s in r.shards]:
        column = pq.read_table(path, columns=[p.category_column], filesystem=root.fs)[p.category_column]
        for c in column.cast(pa.string()).fill_null("(none)").to_pylist():
            kept_by[c] = kept_by.get(c, 0) + 1
    table = [{"category": c, "n": s["n"], "mean": round(s["mean"], 4), "std": round(s["std"], 4),
              "threshold": round(s["threshold"], 4), "kept": kept_by.get(c, 0), "dropped": s["n"] - kept_by.get(c, 0)}
             for c, s in stats.items()]
    if results:
        results[0].stats.count("rows_in", len(scores))
        results[0].stats.table("categories", table)
        if scores:
            png = plot_histograms(cats, scores, stats, get_settings().reports / f"{ctx.stage.name}-{ctx.version}.png")
            results[0].stats.table("plots", [{"plot": "rm score histograms by category", "path": str(png)}])
    return results


def reward_filter_stage(name: str, params: type[RMScoreParams], inputs: tuple[str, ...], description: str,
                        tags: tuple[str, ...], **pipeline) -> Stage:
    return Stage(name=name, params=params, plan=plan, process=score_shard, schema=None, run=run,
                 code=("zhinao.tasks.reward",), inputs=inputs, description=description, tags=tags, **pipeline)


RM_SCORE_STAGE = reward_filter_stage(
    "rm-score", RMScoreParams, ("judge",),
    "Reward-model scores of (prompt, response) samples; per category, samples below mean - k*std dropped.",
    ("data", "generation"), pipeline="data", empty_ok=True)
