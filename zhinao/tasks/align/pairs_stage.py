"""dpo-pairs: on-policy preference pairs for iterative DPO (360Zhinao2): a model version samples n
answers to each prompt of a dataset version (preference-data's prompts by default) through the
generator interface, a reward-model version scores them, and the best and worst answers make the
pair (zhinao/tasks/align/onpolicy.py). Its parents are the prompts, the policy and the reward model."""
from __future__ import annotations

from pydantic import Field

from zhinao.tasks.align.onpolicy import OnPolicyPairs, SCHEMA
from zhinao.tasks.declare import Plan, Stage
from zhinao.tasks.generate.generation import GENERATION_CODE, GENERATOR_ACTORS, GenerationParams, generator, model_plan
from zhinao.tasks.generate.models import model_sources, resolve_model
from zhinao.tasks.params import NAMES_VERSION, NOT_IN_KEY


class DPOPairsParams(GenerationParams):
    model: str = Field("sft", json_schema_extra=NAMES_VERSION, description="The policy that samples: a model version (default the latest sft), a "
                                          "local HF folder or 'smollm2-135m-instruct'.")
    prompts_from: str = Field("preference-data", json_schema_extra={**NOT_IN_KEY, **NAMES_VERSION}, description=(
        "The dataset (DATASET[@VERSION]) whose distinct `prompt`s are answered."))
    reward_model: str = Field("reward-model", json_schema_extra={**NOT_IN_KEY, **NAMES_VERSION}, description=(
        "The reward model that scores the answers (a reward-model version or folder)."))
    n: int = Field(4, ge=2, description="Answers sampled per prompt.")
    prompts: int = Field(0, ge=0, description="Prompts answered (a fixed sample by prompt hash); 0: all.")
    min_margin: float = Field(0.0, ge=0, description="Pairs whose best-worst reward margin is under this are "
                                                     "dropped (margin_below_threshold).")
    max_tokens: int = Field(64, gt=0)
    temperature: float = Field(1.0, gt=0)
    rm_max_length: int = Field(1024, gt=0, description="Tokens the reward model reads per conversation.")
    rm_batch_size: int = Field(16, gt=0, json_schema_extra=NOT_IN_KEY)


def plan(p: DPOPairsParams, parents, store) -> Plan:
    (data,) = parents
    info, sources, model_parents = model_plan(p, store)
    origin = f"onpolicy:{model_parents[0].ref if model_parents else p.model}"
    rm, rm_parents = resolve_model(p.reward_model, store)
    model_parents += [m for m in rm_parents if m.ref not in {x.ref for x in model_parents}]
    sources = sources + [s | {"name": f"reward_model/{s['name']}"} for s in model_sources(rm)]
    split = {"root": store.root, "paths": store.shard_paths(data), "rm_path": str(rm), "origin": origin,
             "limit": p.prompts}
    return Plan(splits=[split], sources=sources, schema=SCHEMA, info=info, parents=model_parents)


def run(ctx):
    with generator(ctx) as spec:
        splits = [s | {"spec": spec} for s in ctx.plan.splits]
        return ctx.final(OnPolicyPairs(), splits, desc="sample and score", actors=GENERATOR_ACTORS)


def _inputs(p: DPOPairsParams) -> tuple[str, ...]:
    return (p.prompts_from,)


DPO_PAIRS = Stage(
    name="dpo-pairs", tags=("post-training", "alignment"), params=DPOPairsParams, plan=plan, process=OnPolicyPairs(), schema=SCHEMA, run=run,
    code=GENERATION_CODE + ("zhinao.tasks.align.onpolicy", "zhinao.tasks.reward.scorer"), inputs=_inputs,
    description="On-policy pairs: the policy samples n answers per prompt, the reward model scores them, "
                "best vs worst (margin threshold).")
