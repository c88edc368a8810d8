"""synth: synthetic math / code / instruction data from topics of real documents, in rounds."""
from pydantic import Field, field_validator

from zhinao.tasks.declare import Plan, Stage
from zhinao.tasks.generate.engine import GenerateRows
from zhinao.tasks.generate.generation import (GENERATION_CODE, GENERATOR_ACTORS, GenerationParams, gen_split,
                                              generator, model_plan, template_sources)
from zhinao.tasks.generate.neardup import near_duplicates
from zhinao.tasks.generate.prompts import EVOLVE, SYNTH, TOPICS, templates_key
from zhinao.tasks.generate.rows import WriteRows, read_results
from zhinao.tasks.generate.synth import ITEM_JOB, ITEM_SCHEMA, KINDS, TOPIC_JOB, TOPIC_SCHEMA, evolve_rows, seed_rows
from zhinao.tasks.runtime.docstage import sampled_shards
from zhinao.tasks.stats import StageStats


class SynthParams(GenerationParams):
    kinds: list[str] = Field(list(KINDS), description=f"What to synthesize, from {list(KINDS)}.")
    docs: int = Field(16, ge=0, description="Real documents to take topics from (a deterministic sample); 0: all.")
    subtopics: int = Field(1, gt=0, le=3, description="Sub-topics per document to generate from.")
    rounds: int = Field(2, gt=0, description="Generation rounds; each round after the first evolves the "
                                             "previous round's kept items into harder ones.")
    near_dup_threshold: float = Field(0.7, gt=0, le=1, description="Estimated Jaccard (word 3-grams) above "
                                      "which a later item is dropped as a near-duplicate of an earlier one.")
    max_source_chars: int = Field(2000, gt=0)
    items_per_split: int = Field(32, gt=0, description="Items per Ray task / actor call.")

    @field_validator("kinds")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        if not v or any(k not in KINDS for k in v):
            raise ValueError(f"kinds must be a non-empty subset of {list(KINDS)}, got {v}")
        return v


def plan(p: SynthParams, parents, store) -> Plan:
    info, sources, model_parents = model_plan(p, store)
    splits = sampled_shards(parents, store, p.docs, "synth")
    keys = templates_key(TOPICS, {k: SYNTH[k] for k in p.kinds}, {k: EVOLVE[k] for k in p.kinds})
    return Plan(splits=splits, sources=sources + template_sources(keys), schema=ITEM_SCHEMA, info=info,
                parents=model_parents)


def _chunks(rows: list[dict], size: int) -> list[list[dict]]:
    return [rows[i:i + size] for i in range(0, len(rows), size)]


def run(ctx):
    p, root = ctx.params, ctx.store.root
    phase_stats = StageStats()

    def phase(job, splits, name):
        folder, audit = f"{ctx.scratch}/{name}", f"{ctx.scratch}/{name}-dropped"
        results = ctx.map(GenerateRows(job), splits, name, output=folder, audit=audit, actors=GENERATOR_ACTORS)
        for r in results:
            for key in ("prompt_tokens", "completion_tokens", "batches", "batches_resumed"):
                phase_stats.count(key, r.stats.counters.get(key, 0))
            for reason, n in r.stats.dropped.items():
                phase_stats.count(f"{name}.dropped.{reason}", n)
            phase_stats.count(f"{name}.rows_in", r.stats.counters.get("rows_in", 0))
            phase_stats.count(f"{name}.rows_out", r.stats.counters.get("rows_out", 0))
        kept = read_results(root, folder, results)
        dropped = read_results(root, audit, results, audit=True)
        return (kept.to_pylist() if kept is not None else []), (dropped.to_pylist() if dropped is not None else [])

    with generator(ctx) as spec:
        topic_splits = [gen_split(ctx, spec, TOPIC_SCHEMA, path=s["path"], ids=s["ids"],
                                  columns=["id", "text", "lang"]) for s in ctx.plan.splits]
        topics, _ = phase(TOPIC_JOB, topic_splits, "topics")
        seeds = seed_rows(sorted(topics, key=lambda t: t["id"]), p.kinds)
        items, dropped = [], []
        for rnd in range(1, p.rounds + 1):
            if not seeds:
                break
            splits = [gen_split(ctx, spec, ITEM_SCHEMA, rows=chunk) for chunk in _chunks(seeds, p.items_per_split)]
            kept, bad = phase(ITEM_JOB, splits, f"round{rnd}")
            kept.sort(key=lambda r: r["id"])
            items += kept
            dropped += bad
            seeds = evolve_rows(kept, rnd + 1)
    # near-duplicates across all rounds and kinds: the earlier round (then id) wins
    items.sort(key=lambda r: (r["round"], r["id"]))
    dups = near_duplicates([f"{r['prompt']}\n{r['response']}" for r in items], p.near_dup_threshold)
    for i in dups:
        items[i]["drop_reason"] = "near_duplicate"
    results = ctx.final(WriteRows(), [{"rows": items + dropped, "schema": ITEM_SCHEMA}], desc="write")
    for r in results:
        r.stats.merge(phase_stats)
    results[0].stats.count("rows_in", phase_stats.counters.get("topics.rows_in", 0))  # seed documents
    return results


SYNTH_STAGE = Stage(
    name="synth", tags=("data", "generation"), pipeline="data", empty_ok=True, params=SynthParams, plan=plan, process=WriteRows(), schema=ITEM_SCHEMA, run=run,
    code=GENERATION_CODE + ("zhinao.tasks.generate.synth", "zhinao.tasks.generate.neardup"), inputs=("rebalance",),
    description="Synthetic math (solution + final answer), code (with explanation) and instruction items from "
                "topics of real documents; `rounds` of harder evolutions; near-duplicates removed.")
