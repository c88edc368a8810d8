"""rewrite: kept web documents rewritten into cleaner, better-organised forms by an LLM."""
from pydantic import Field, field_validator

from zhinao.tasks.declare import Plan, Stage
from zhinao.tasks.generate.engine import GenerateRows
from zhinao.tasks.generate.generation import (GENERATION_CODE, GENERATOR_ACTORS, GenerationParams, gen_split,
                                              generator, model_plan, template_sources)
from zhinao.tasks.generate.prompts import REWRITE, templates_key
from zhinao.tasks.generate.rewrite import JOB, SCHEMA
from zhinao.tasks.runtime.docstage import sampled_shards


class RewriteParams(GenerationParams):
    styles: list[str] = Field(list(REWRITE), description=f"Rewrite styles, from {list(REWRITE)}.")
    styles_per_doc: int = Field(1, gt=0, description="Styles per document, rotated by document id.")
    docs: int = Field(0, ge=0, description="Documents to rewrite (a deterministic sample); 0: all.")
    max_source_chars: int = Field(3000, gt=0, description="Characters of the source page put in the prompt.")
    min_chars: int = Field(80, ge=1, description="Shorter rewrites are dropped as empty.")
    trim_truncated: bool = Field(True, description="A rewrite cut at max_tokens is trimmed to its last complete "
                                                   "paragraph or sentence (dropped as truncated when nothing is left).")
    max_tokens: int = Field(512, gt=0)

    @field_validator("styles")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        unknown = [s for s in v if s not in REWRITE]
        if unknown or not v:
            raise ValueError(f"unknown rewrite style(s) {unknown}; choose from {list(REWRITE)}")
        return v


def plan(p: RewriteParams, parents, store) -> Plan:
    info, sources, model_parents = model_plan(p, store)
    splits = sampled_shards(parents, store, p.docs, "rewrite")
    keys = templates_key({k: v for k, v in REWRITE.items() if k in p.styles})
    return Plan(splits=splits, sources=sources + template_sources(keys), schema=SCHEMA, info=info,
                parents=model_parents)


def run(ctx):
    with generator(ctx) as spec:
        splits = [gen_split(ctx, spec, SCHEMA, path=s["path"], ids=s["ids"]) for s in ctx.plan.splits]
        return ctx.final(GenerateRows(JOB), splits, desc="rewrite", actors=GENERATOR_ACTORS)


REWRITE_STAGE = Stage(
    name="rewrite", tags=("data", "generation"), pipeline="data", empty_ok=True, params=RewriteParams, plan=plan, process=GenerateRows(JOB), schema=SCHEMA, run=run,
    code=GENERATION_CODE + ("zhinao.tasks.generate.rewrite",), inputs=("rebalance",),
    description="LLM rewrites of kept web documents (article / Q&A / notes), linked by rewritten_from.")
