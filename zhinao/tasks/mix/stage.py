"""mix-stage1 / mix-stage2: the pretraining data. A mixture spec (token shares of web, rewritten web,
synthetic math / code, instruction data and any other dataset, with epoch caps) resolved into
shuffled Parquet shards of about `shard_tokens` tokens, with the achieved shares beside the
requested ones. Stage 1 and stage 2 (annealing) are two specs over the same sources."""
import logging
from pathlib import Path
from typing import Literal

from pydantic import Field

from zhinao.tasks.declare import Plan, Stage
from zhinao.tasks.mix.phases import SCHEMA, gather, measure, scatter
from zhinao.tasks.mix.report import mixture_rows, plot_mixture
from zhinao.tasks.mix.resolve import resolve, why_empty
from zhinao.tasks.mix.spec import MixSpec, STAGE1, STAGE2
from zhinao.tasks.mix.tokens import check_tokenizer
from zhinao.tasks.params import StageParams
from zhinao.tasks.runtime.sampling import threshold
from zhinao.tasks.settings import get_settings
from zhinao.tasks.stats import StageStats
from zhinao.tasks.store import file_fingerprint


log = logging.getLogger("zhinao.mix")


class MixParams(StageParams):
    spec: MixSpec = Field(default_factory=lambda: STAGE1.model_copy(deep=True))
    total_tokens: int | None = Field(None, gt=0, description="Tokens in the mixture; None: the largest mixture in "
                                     "which every source keeps its share within its max_epochs.")
    missing: Literal["renormalize", "error"] = Field("renormalize", description="A source without documents: "
                                                     "leave it out and renormalise the other shares, or fail.")
    empty: Literal["warn", "error"] = Field("warn", description="No source has documents (e.g. a small crawl "
                                            "misses every `where`): commit an empty mixture with a warning and "
                                            "an `empty_sources` statistic saying what emptied each source, or fail "
                                            "with that message.")
    tokenizer: str = Field("approx", description="'approx' (no tokenizer needed) or a tokenizer.json file / a "
                                                 "folder holding one; token counts decide the shares.")
    shard_tokens: int = Field(1_000_000, gt=0, description="Tokens per output shard (about).")
    partitions: int = Field(8, gt=0, description="Shuffle partitions (each yields one or more shards).")
    tolerance: float = Field(0.02, ge=0, description="Largest |achieved - requested| share accepted; beyond it "
                             "the stage fails, naming the source (documents are whole, so tiny sources miss by "
                             "up to one document).")
    seed: int = 0


class MixStage2Params(MixParams):
    spec: MixSpec = Field(default_factory=lambda: STAGE2.model_copy(deep=True))


def _inputs(p: MixParams) -> tuple[str, ...]:
    return p.spec.datasets()


def plan(p: MixParams, parents, store) -> Plan:
    check_tokenizer(p.tokenizer)
    by_name = {m.dataset: m for m in parents}
    extra = []
    splits = []
    for src in p.spec.sources:
        m = store.resolve(src.dataset) if "@" in src.dataset else by_name[src.dataset]
        if m.kind != "dataset":
            raise ValueError(f"mix source {src.name!r}: {m.ref} is a {m.kind} version, not a dataset")
        if "@" in src.dataset and m.ref not in {x.ref for x in parents + extra}:
            extra.append(m)
        for path in store.shard_paths(m):
            splits.append({"root": store.root, "path": path, "source": src.name, "origin": m.ref,
                           "columns": src.columns(), "where": src.where, "text": src.text,
                           "topic_column": src.topic_column})
    sources = []
    if p.tokenizer != "approx":   # the tokenizer decides the counts, so its file names the version
        file = Path(p.tokenizer).expanduser()
        file = file / "tokenizer.json" if file.is_dir() else file
        sources.append({"uri": str(file), "name": "tokenizer", "fingerprint": file_fingerprint(str(file))})
    return Plan(splits=splits, schema=SCHEMA, parents=extra, sources=sources)


def run(ctx):
    p, root = ctx.params, ctx.store.root
    spec = MixSpec.model_validate(p.spec)
    norm = f"{ctx.scratch}/norm"
    splits = [s | {"norm": root.join(norm, f"s{i:05d}.parquet")} for i, s in enumerate(ctx.plan.splits)]
    measured = StageStats()
    for r in ctx.map(measure, splits, "measure sources"):
        measured.merge(r.stats)
    available = {s.name: measured.counters.get(f"tokens.{s.name}", 0) for s in spec.sources}
    why = why_empty(spec, measured, {s["source"]: s["origin"] for s in splits})
    alloc = resolve(spec, available, p.total_tokens, p.missing, p.empty, why)
    plan_rows = {}
    for name, a in alloc.items():
        full = int(a.epochs + 1e-9)
        frac_tokens = a.target - full * a.available
        plan_rows[name] = (full, threshold(dict(measured.histograms[f"hash/{name}"]), frac_tokens)
                           if frac_tokens > 0 else 0.0)
    log.info("mixture %s: %s", spec.name, ", ".join(f"{n} {a.epochs:.2f} epochs" for n, a in alloc.items()))
    shuffle = f"{ctx.scratch}/shuffle"
    ctx.map(scatter, [s | {"full": plan_rows[s["source"]][0], "threshold": plan_rows[s["source"]][1],
                           "folder": shuffle, "name": f"s{i:05d}"} for i, s in enumerate(splits)], "repeat + scatter")
    results = ctx.final(gather, [{"root": root, "folder": shuffle, "partition": q} for q in range(p.partitions)],
                        desc="shuffle + write shards")
    mixed = StageStats()
    for r in results:
        mixed.merge(r.stats)
    rows = mixture_rows(spec, alloc, measured, mixed)
    worst = max(rows, key=lambda r: abs(r["achieved_share"] - r["share"]))
    if results:
        results[0].stats.table("mixture", rows)
        results[0].stats.count("tokens_out", sum(r["tokens"] for r in rows))
        png = plot_mixture(rows, get_settings().reports / f"mix-{spec.name}-{ctx.version}.png", spec.name)
        results[0].stats.table("plots", [{"plot": f"mixture {spec.name}: requested vs achieved", "path": str(png)}])
        if why:
            results[0].stats.table("empty_sources", [{"source": n, "why": w} for n, w in why.items()])
    if abs(worst["achieved_share"] - worst["share"]) > p.tolerance:
        raise ValueError(f"mixture {spec.name}: source {worst['source']!r} got {worst['achieved_share']:.4f} of the "
                         f"tokens for {worst['share']:.4f} requested (tolerance {p.tolerance}); use smaller "
                         "documents, more of them, or a larger tolerance")
    return results


def only_made(p: MixParams, made: dict[str, str]) -> MixParams:
    """In a pipeline run: the mixture keeps the sources the run made (and pinned ones), their shares
    renormalised; without the LLM stages, web data alone."""
    keep = [s for s in p.spec.sources if "@" in s.dataset or s.dataset in made]
    if len(keep) == len(p.spec.sources):
        return p
    total = sum(s.share for s in keep)
    sources = [s.model_copy(update={"share": s.share / total}) for s in keep]
    return p.model_copy(update={"spec": p.spec.model_copy(update={"sources": sources})})


def mix_stage(name: str, params: type[MixParams], which: str) -> Stage:
    return Stage(name=name, params=params, plan=plan, process=None, schema=SCHEMA, run=run, tags=("data", "mix"), pipeline="data", fit_to_run=only_made,
                 code=("zhinao.tasks.mix", "zhinao.tasks.runtime.sampling", "zhinao.tasks.dedup.shuffle"), inputs=_inputs,
                 description=f"The {which} pretraining mixture: sources by token share (epoch caps), shuffled into "
                             "Parquet shards, achieved vs requested shares in the manifest.")


MIX_STAGE1 = mix_stage("mix-stage1", MixParams, "stage-1")
MIX_STAGE2 = mix_stage("mix-stage2", MixStage2Params, "stage-2 (annealing)")
