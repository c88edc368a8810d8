"""Whole pipelines: stage flows chained as subflows, each stage's output the next one's input."""
from prefect import flow
from pydantic import BaseModel, ConfigDict, Field

from .dedup_exact import ExactDedupParams, dedup_exact
from .dedup_minhash import MinHashParams, dedup_minhash
from .dedup_semantic import SemanticDedupParams, dedup_semantic
from .embed import EmbedParams, embed
from .extract import ExtractParams, extract
from .ingest import IngestParams, ingest
from .judge import JudgeParams, judge
from .langid import LangIdParams, langid
from .quality import QualityParams, quality
from .report import publish_funnel
from .rewrite import RewriteParams, rewrite
from .rm_score import RMScoreParams, rm_score
from .stage import StageResult
from .synth import SynthParams, synth


class DataParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ingest: IngestParams = Field(default_factory=IngestParams)
    extract: ExtractParams = Field(default_factory=ExtractParams)
    langid: LangIdParams = Field(default_factory=LangIdParams)
    quality: QualityParams = Field(default_factory=QualityParams)
    dedup_exact: ExactDedupParams = Field(default_factory=ExactDedupParams)
    dedup_minhash: MinHashParams = Field(default_factory=MinHashParams)
    embed: EmbedParams = Field(default_factory=EmbedParams)
    dedup_semantic: SemanticDedupParams = Field(default_factory=SemanticDedupParams)
    generate: bool = Field(True, description="Run the LLM stages (rewrite, synth, judge, rm-score) after dedup.")
    # sample-sized defaults: a CPU runs the 135M default generator at tens of tokens per second
    rewrite: RewriteParams = Field(default_factory=lambda: RewriteParams(docs=12, max_tokens=384))
    synth: SynthParams = Field(default_factory=lambda: SynthParams(docs=4))
    # the 135M default judge cannot tell good items from bad (it rates nearly all 1): on the sample,
    # scores and answer/code checks are recorded without score floors; a real judge model gets them
    judge: JudgeParams = Field(default_factory=lambda: JudgeParams(min_scores={}))
    rm_score: RMScoreParams | None = Field(None, description="Score judged items with a reward model and filter "
                                                             "per category (runs when given).")


@flow(name="data", description="The data pipeline: crawl files -> documents -> main text -> language ID -> "
                                "quality filters -> exact dedup -> MinHash dedup -> embeddings -> semantic dedup "
                                "-> LLM rewrite, synth (rounds), judge, rm-score.", persist_result=False)
def data(params: DataParams = DataParams()) -> list[StageResult]:
    results = [ingest(params.ingest)]
    for run_stage, stage_params, upstream in ((extract, params.extract, "ingest"),
                                              (langid, params.langid, "extract"),
                                              (quality, params.quality, "langid"),
                                              (dedup_exact, params.dedup_exact, "quality"),
                                              (dedup_minhash, params.dedup_minhash, "dedup-exact")):
        results.append(run_stage(stage_params, inputs={upstream: results[-1].ref}))
    docs = results[-1].ref
    embedded = embed(params.embed, inputs={"dedup-minhash": docs})
    results += [embedded, dedup_semantic(params.dedup_semantic, inputs={"dedup-minhash": docs, "embed": embedded.ref})]
    publish_funnel([r for r in results if r.stage != "embed"])
    if params.generate:
        kept = results[-1].ref
        results.append(rewrite(params.rewrite, inputs={"dedup-semantic": kept}))
        items = synth(params.synth, inputs={"dedup-semantic": kept})
        judged = judge(params.judge, inputs={"synth": items.ref})
        results += [items, judged]
        if params.rm_score is not None:
            results.append(rm_score(params.rm_score, inputs={"judge": judged.ref}))
    return results
