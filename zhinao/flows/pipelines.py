"""Whole pipelines: stage flows chained as subflows, each stage's output the next one's input."""
from prefect import flow
from pydantic import BaseModel, ConfigDict, Field

from zhinao.tasks.mix.resolve import empty_mixture
from zhinao.tasks.stats import dropped_text
from zhinao.tasks.store import Store

from .annotate import AnnotateParams, annotate
from .classify import ClassifyParams, classify
from .dedup_exact import ExactDedupParams, dedup_exact
from .dedup_minhash import MinHashParams, dedup_minhash
from .dedup_semantic import SemanticDedupParams, dedup_semantic
from .embed import EmbedParams, embed
from .extract import ExtractParams, extract
from .ingest import IngestParams, ingest
from .judge import JudgeParams, judge
from .langid import LangIdParams, langid
from .mix import MixParams, MixStage2Params, mix_stage1, mix_stage2
from .pretrain import AnnealParams, PretrainParams, pretrain_stage1, pretrain_stage2
from .quality import QualityParams, quality
from .rebalance import RebalanceParams, rebalance
from .report import publish_funnel
from .rewrite import RewriteParams, rewrite
from .rm_score import RMScoreParams, rm_score
from .stage import StageResult, _logger
from .synth import SynthParams, synth
from .tokenize import TokenizeParams, tokens_stage1, tokens_stage2
from .tokenizer import TokenizerParams, tokenizer
from .topic_model import TopicModelParams, topic_model


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
    annotate: AnnotateParams = Field(default_factory=AnnotateParams)
    topic_model: TopicModelParams = Field(default_factory=TopicModelParams)
    classify: ClassifyParams = Field(default_factory=ClassifyParams)
    rebalance: RebalanceParams = Field(default_factory=RebalanceParams)
    generate: bool = Field(True, description="Run the LLM stages (rewrite, synth, judge, rm-score) after rebalance.")
    # sample-sized defaults: a CPU runs the 135M default generator at tens of tokens per second
    rewrite: RewriteParams = Field(default_factory=lambda: RewriteParams(docs=8, max_tokens=256))
    synth: SynthParams = Field(default_factory=lambda: SynthParams(docs=4))
    # the 135M default judge cannot tell good items from bad (it rates nearly all 1): on the sample,
    # scores and answer/code checks are recorded without score floors; a real judge model gets them
    judge: JudgeParams = Field(default_factory=lambda: JudgeParams(min_scores={}))
    rm_score: RMScoreParams | None = Field(None, description="Score judged items with a reward model and filter "
                                                             "per category (runs when given).")
    # sample-sized shards: the sample's mixtures hold some ten thousand tokens
    mix_stage1: MixParams = Field(default_factory=lambda: MixParams(shard_tokens=4000, partitions=4))
    mix_stage2: MixStage2Params = Field(default_factory=lambda: MixStage2Params(shard_tokens=4000, partitions=4))


@flow(name="data", description="The data pipeline: crawl files -> documents -> main text -> language ID -> "
                                "quality filters -> exact dedup -> MinHash dedup -> embeddings -> semantic dedup "
                                "-> topic annotation, classifier, classify, rebalance -> LLM rewrite, synth (rounds), "
                                "judge, rm-score -> stage-1 and stage-2 mixtures.", persist_result=False)
def data(params: DataParams = DataParams()) -> list[StageResult]:
    results = [ingest(params.ingest)]
    for run_stage, stage_params, upstream in ((extract, params.extract, "ingest"),
                                              (langid, params.langid, "extract"),
                                              (quality, params.quality, "langid"),
                                              (dedup_exact, params.dedup_exact, "quality"),
                                              (dedup_minhash, params.dedup_minhash, "dedup-exact")):
        results.append(run_stage(stage_params, inputs={upstream: nonempty(results[-1], run_stage.name)}))
    docs = nonempty(results[-1], "embed")
    embedded = embed(params.embed, inputs={"dedup-minhash": docs})
    results += [embedded, dedup_semantic(params.dedup_semantic, inputs={"dedup-minhash": docs, "embed": embedded.ref})]
    labels = annotate(params.annotate, inputs={"dedup-semantic": results[-1].ref})
    model = topic_model(params.topic_model, inputs={"annotate": labels.ref})
    classified = classify(params.classify, inputs={"dedup-semantic": results[-1].ref, "topic-model": model.ref})
    results += [labels, model, classified, rebalance(params.rebalance, inputs={"classify": classified.ref})]
    publish_funnel([r for r in results if r.stage not in ("embed", "annotate", "topic-model")])
    web = results[-1].ref
    made = {"rebalance": web}
    if params.generate:
        results.append(rewrite(params.rewrite, inputs={"rebalance": web}))
        items = synth(params.synth, inputs={"rebalance": web})
        judged = judge(params.judge, inputs={"synth": items.ref})
        results += [items, judged]
        made |= {"rewrite": results[-3].ref, "judge": judged.ref}
        if params.rm_score is not None:
            results.append(rm_score(params.rm_score, inputs={"judge": judged.ref}))
    for run_mix, mix_params in ((mix_stage1, params.mix_stage1), (mix_stage2, params.mix_stage2)):
        results.append(run_mix(only_made(mix_params, made), inputs={k: v for k, v in made.items()
                                                                   if k in mix_params.spec.datasets()}))
    return results


class EmptyOutput(ValueError):
    """A stage of a pipeline kept no rows: the stages after it would only make empty versions."""


def nonempty(result: StageResult, following: str) -> str:
    """The ref of a stage's output, when it holds rows for the stage that follows."""
    if result.kind == "dataset" and result.rows == 0:
        dropped = dropped_text(result.stats.get("dropped", {}))
        raise EmptyOutput(f"{result.ref} holds 0 rows (dropped: {dropped}): the pipeline stops before {following}, "
                          "which would have nothing to work on")
    return result.ref


def only_made(p: MixParams, made: dict[str, str]) -> MixParams:
    """Without the LLM stages, a mixture keeps only the sources this run made (and pinned ones)."""
    keep = [s for s in p.spec.sources if "@" in s.dataset or s.dataset in made]
    if len(keep) == len(p.spec.sources):
        return p
    total = sum(s.share for s in keep)
    sources = [s.model_copy(update={"share": s.share / total}) for s in keep]
    return p.model_copy(update={"spec": p.spec.model_copy(update={"sources": sources})})


class ModelParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tokenizer: TokenizerParams = Field(default_factory=TokenizerParams)
    tokens_stage1: TokenizeParams = Field(default_factory=TokenizeParams)
    tokens_stage2: TokenizeParams = Field(default_factory=TokenizeParams)
    # sample-sized defaults: the tiny preset on some ten thousand tokens, a minute on a CPU
    pretrain_stage1: PretrainParams = Field(default_factory=lambda: PretrainParams(
        seq_len=64, steps=60, max_lr=3e-3, warmup_steps=5, checkpoint_every=20, eval_every=20))
    pretrain_stage2: AnnealParams = Field(default_factory=lambda: AnnealParams(
        seq_len=64, steps=20, checkpoint_every=10, eval_every=10))


@flow(name="model", description="The model pipeline on the latest mixtures: tokenizer -> stage-1 and stage-2 "
                                 "token shards -> pretraining stage 1 (cosine to a raised floor) -> stage 2 "
                                 "(anneal to 0 on the high-quality mix).", persist_result=False)
def model(params: ModelParams = ModelParams()) -> list[StageResult]:
    # a first small crawl can leave stage 2's high-quality filters nothing: stage 1 still trains
    empty = empty_mixture(Store().resolve("mix-stage2"))
    if empty:
        _logger().warning("%s; skipping tokens-stage2 and pretrain-stage2 (stage 1 trains as usual)", empty)
    tok = tokenizer(params.tokenizer)
    first = tokens_stage1(params.tokens_stage1, inputs={"tokenizer": tok.ref})
    second = None if empty else tokens_stage2(params.tokens_stage2, inputs={"tokenizer": tok.ref})
    base = pretrain_stage1(params.pretrain_stage1, inputs={"tokens-stage1": first.ref})
    if second is None:
        return [tok, first, base]
    annealed = pretrain_stage2(params.pretrain_stage2, inputs={"tokens-stage2": second.ref,
                                                               "pretrain-stage1": base.ref})
    return [tok, first, second, base, annealed]
