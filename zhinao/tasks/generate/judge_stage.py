"""judge: LLM-as-judge scores of synthetic items, answer and code checks, per-dimension thresholds."""
from typing import Annotated, Literal

from pydantic import Field, field_validator

from zhinao.tasks.declare import Plan, Stage
from zhinao.tasks.generate.engine import GenerateRows
from zhinao.tasks.generate.generation import (GENERATION_CODE, GENERATOR_ACTORS, GenerationParams, gen_split,
                                              generator, model_plan, template_sources)
from zhinao.tasks.generate.judge import ADDED, DIMENSIONS, JOB
from zhinao.tasks.generate.prompts import JUDGE, PROGRAM, RESOLVE, templates_key
from zhinao.tasks.runtime.docstage import input_shards
from zhinao.tasks.runtime.mapper import output_schema


class JudgeParams(GenerationParams):
    # judges score 1 to 10 (zhinao/tasks/generate/judge.py)
    min_scores: dict[str, Annotated[int, Field(ge=1, le=10)]] = Field(
        {"correctness": 4, "clarity": 3, "usefulness": 3}, description=f"Lowest score kept per dimension "
        f"({', '.join(DIMENSIONS)}); a dimension not named is not filtered on.")
    judge_attempts: int = Field(2, ge=1, le=4, description="Judge requests per item (the first greedy, the rest "
                                                           "sampled); the first that parses counts.")
    check_math: bool = Field(True, description="Re-solve math items and run a program the model writes for them.")
    answer_check: Literal["off", "not_disagree", "agree"] = Field(
        "not_disagree", description="not_disagree: drop math items whose checks found another answer; agree: "
                                    "also drop items no check could confirm.")
    check_code: bool = Field(True, description="Run code items (sandboxed); drop code that fails.")
    max_tokens: int = Field(256, gt=0)

    @field_validator("min_scores")
    @classmethod
    def _dims(cls, v: dict[str, int]) -> dict[str, int]:
        unknown = set(v) - set(DIMENSIONS)
        if unknown:
            raise ValueError(f"unknown judge dimension(s) {sorted(unknown)}; dimensions: {list(DIMENSIONS)}")
        return v


def plan(p: JudgeParams, parents, store) -> Plan:
    info, sources, model_parents = model_plan(p, store)
    splits, schema = input_shards(parents, store)
    missing = {"id", "kind", "prompt", "response", "answer"} - set(schema.names)
    if missing:
        raise ValueError(f"judge reads synthetic items; input {parents[0].ref} lacks columns {sorted(missing)}")
    out = output_schema(schema, ADDED)
    return Plan(splits=splits, sources=sources + template_sources(templates_key(JUDGE, RESOLVE, PROGRAM)),
                schema=out, info=info, parents=model_parents)


def run(ctx):
    with generator(ctx) as spec:
        splits = [gen_split(ctx, spec, ctx.plan.schema, path=s["path"]) for s in ctx.plan.splits]
        return ctx.final(GenerateRows(JOB), splits, desc="judge", actors=GENERATOR_ACTORS)


JUDGE_STAGE = Stage(
    name="judge", tags=("data", "generation"), pipeline="data", empty_ok=True, params=JudgeParams, plan=plan, process=GenerateRows(JOB), schema=None, run=run,
    code=GENERATION_CODE + ("zhinao.tasks.generate.judge", "zhinao.tasks.generate.sandbox", "zhinao.tasks.generate.synth"),
    inputs=("synth",),
    description="LLM-as-judge scores (correctness, difficulty, clarity, usefulness) of synthetic items, math "
                "answers re-solved and computed by program, code executed; weak items dropped by reason.")
