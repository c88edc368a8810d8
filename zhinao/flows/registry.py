"""Every runnable target by name: stages and pipelines (what `zhinao run` and prefect.yaml name)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True)
class Target:
    name: str
    flow: Any
    params: type[BaseModel]
    kind: str   # "stage" | "pipeline"


def targets() -> dict[str, Target]:
    from .ablate import AblateParams, ablate
    from .align import DPOLoraParams, DPOParams, GRPOParams, ReMaxParams, dpo, dpo_lora, grpo, remax
    from .align_pipeline import AlignPipelineParams, align
    from .annotate import AnnotateParams, annotate
    from .classify import ClassifyParams, classify
    from .dedup_exact import ExactDedupParams, dedup_exact
    from .dedup_minhash import MinHashParams, dedup_minhash
    from .dedup_semantic import SemanticDedupParams, dedup_semantic
    from .dpo_iterative import DPOIterativeParams, dpo_iterative
    from .dpo_pairs import DPOPairsParams, dpo_pairs
    from .embed import EmbedParams, embed
    from .evaluate import EvalParams, evaluate
    from .extract import ExtractParams, extract
    from .ingest import IngestParams, ingest
    from .instruct_evolve import InstructEvolveParams, instruct_evolve
    from .judge import JudgeParams, judge
    from .langid import LangIdParams, langid
    from .merge import MergeParams, merge
    from .mix import MixParams, MixStage2Params, mix_stage1, mix_stage2
    from .pipelines import DataParams, ModelParams, data, model
    from .post_train import PostTrainParams, post_train
    from .preference_data import PreferenceDataParams, preference_data
    from .quality import QualityParams, quality
    from .pretrain import AnnealParams, PretrainParams, pretrain_stage1, pretrain_stage2
    from .rebalance import RebalanceParams, rebalance
    from .reward_model import RewardModelParams, reward_model
    from .rewrite import RewriteParams, rewrite
    from .rm_filter import RMFilterParams, rm_filter
    from .rm_score import RMScoreParams, rm_score
    from .sft import SFTParams, sft
    from .sft_data import SftDataParams, sft_data
    from .synth import SynthParams, synth
    from .tokenize import TokenizeParams, tokens_stage1, tokens_stage2
    from .tokenizer import TokenizerParams, tokenizer
    from .topic_model import TopicModelParams, topic_model

    stages = [("ingest", ingest, IngestParams), ("extract", extract, ExtractParams),
              ("langid", langid, LangIdParams), ("quality", quality, QualityParams),
              ("dedup-exact", dedup_exact, ExactDedupParams), ("dedup-minhash", dedup_minhash, MinHashParams),
              ("embed", embed, EmbedParams), ("dedup-semantic", dedup_semantic, SemanticDedupParams),
              ("annotate", annotate, AnnotateParams), ("topic-model", topic_model, TopicModelParams),
              ("classify", classify, ClassifyParams), ("rebalance", rebalance, RebalanceParams),
              ("rewrite", rewrite, RewriteParams), ("synth", synth, SynthParams), ("judge", judge, JudgeParams),
              ("rm-score", rm_score, RMScoreParams),
              ("mix-stage1", mix_stage1, MixParams), ("mix-stage2", mix_stage2, MixStage2Params),
              ("tokenizer", tokenizer, TokenizerParams), ("tokens-stage1", tokens_stage1, TokenizeParams),
              ("tokens-stage2", tokens_stage2, TokenizeParams),
              ("pretrain-stage1", pretrain_stage1, PretrainParams), ("pretrain-stage2", pretrain_stage2, AnnealParams),
              ("ablate", ablate, AblateParams), ("evaluate", evaluate, EvalParams),
              ("instruct-evolve", instruct_evolve, InstructEvolveParams), ("sft-data", sft_data, SftDataParams),
              ("preference-data", preference_data, PreferenceDataParams),
              ("reward-model", reward_model, RewardModelParams),
              ("rm-filter", rm_filter, RMFilterParams), ("sft", sft, SFTParams),
              ("dpo-pairs", dpo_pairs, DPOPairsParams), ("dpo", dpo, DPOParams), ("dpo-lora", dpo_lora, DPOLoraParams), ("grpo", grpo, GRPOParams), ("remax", remax, ReMaxParams),
              ("merge", merge, MergeParams)]
    out = {name: Target(name, f, p, "stage") for name, f, p in stages}
    out["data"] = Target("data", data, DataParams, "pipeline")
    out["model"] = Target("model", model, ModelParams, "pipeline")
    out["post-train"] = Target("post-train", post_train, PostTrainParams, "pipeline")
    out["align"] = Target("align", align, AlignPipelineParams, "pipeline")
    out["dpo-iterative"] = Target("dpo-iterative", dpo_iterative, DPOIterativeParams, "pipeline")
    return out
