"""classify: every document gets `topic` (one of the 42 ids) and `topic_score` from the topic-model
version, a fastText classifier run batch by batch in Ray tasks."""
from functools import partial

from pydantic import Field

from zhinao.tasks.declare import Plan, Stage
from zhinao.tasks.params import StageParams
from zhinao.tasks.runtime.docstage import input_shards
from zhinao.tasks.runtime.mapper import ShardMap, output_schema
from zhinao.tasks.topics.classify import ADDED, classify_batch


class ClassifyParams(StageParams):
    max_chars: int = Field(2000, gt=0, description="Characters of each document the classifier reads.")


def plan(p: ClassifyParams, parents, store) -> Plan:
    docs, model = parents
    if model.kind != "model":
        raise ValueError(f"{model.ref} is a {model.kind} version, not a topic classifier")
    splits, schema = input_shards([docs], store)
    out = output_schema(schema, ADDED)
    for s in splits:
        s["schema"] = out
    return Plan(splits=splits, schema=out, info={"model_folder": str(store.model_path(model))})


def run(ctx):
    process = ShardMap(partial(classify_batch, model_folder=ctx.plan.info["model_folder"]))
    return ctx.final(process, ctx.plan.splits, desc="classify")


CLASSIFY = Stage(
    name="classify", tags=("data", "topics"), pipeline="data", params=ClassifyParams, plan=plan, process=None, schema=None, run=run,
    code=("zhinao.tasks.topics.classify", "zhinao.tasks.topics.classifier", "zhinao.tasks.topics.features", "zhinao.tasks.runtime.mapper"),
    inputs=("dedup-semantic", "topic-model"),
    description="Topic (42 categories) and its probability for every document, by the fastText classifier.")
