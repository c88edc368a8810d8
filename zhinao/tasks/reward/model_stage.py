"""reward-model: a Bradley-Terry reward model (a one-output sequence-classification head on any HF
causal LM, our pretrained models included) trained with DeepSpeed on a preference dataset; a model
version that tasks/reward/scorer.RewardScorer (rm-score, rm-filter) loads. Validation accuracy and
mean margin per category on held-out pairs (by id hash), a margin histogram and the loss curve are
its artifacts."""
from __future__ import annotations

import json
import pyarrow.parquet as pq
from pathlib import Path

from pydantic import Field

from zhinao.tasks.declare import Plan, Stage
from zhinao.tasks.generate.models import model_sources, resolve_model
from zhinao.tasks.params import NAMES_VERSION, NOT_IN_KEY, PLAN_READS, spec_values
from zhinao.tasks.pretrain.params import StepParams
from zhinao.tasks.pretrain.run import precision_source
from zhinao.tasks.pretrain.training import work_folder
from zhinao.tasks.reward.pair_data import missing_columns
from zhinao.tasks.reward.rm_spec import RewardSpec
from zhinao.tasks.reward.train import run_reward_model


class RewardModelParams(StepParams):
    # in the version id as what it names (the version, a parent, or the folder's files), not as this text
    model: str = Field("pretrain-stage2", json_schema_extra={**NOT_IN_KEY, **PLAN_READS, **NAMES_VERSION}, description=(
        "Base model: a model version in the store (DATASET or DATASET@VERSION; default the latest "
        "pretrain-stage2), a local HF causal-LM folder, or 'smollm2-135m-instruct'."))
    max_length: int = Field(1024, gt=0, description=(
        "Tokens of prompt + response per side (capped at the model's context); longer pairs are dropped."), json_schema_extra=PLAN_READS)
    micro_batch: int = Field(16, gt=0, description="Pairs per rank per micro-step (twice as many sequences).")
    epochs: float = Field(3.0, gt=0, description="Passes over the training pairs (when steps is 0).", json_schema_extra=PLAN_READS)
    steps: int = Field(0, ge=0, description="Optimizer steps (0: from epochs).")
    max_lr: float = Field(3e-3, gt=0, description=(
        "Peak LR (for the sample's tiny model; billion-parameter models want ~1e-5)."))
    warmup_steps: int = Field(5, ge=0)
    floor_ratio: float = Field(0.1, ge=0, le=1, description="The cosine ends at floor_ratio x max_lr.")
    weight_decay: float = Field(0.0, ge=0)
    valid_fraction: float = Field(0.2, gt=0, lt=1, description="Pairs held out for validation, by id hash.", json_schema_extra=PLAN_READS)
    eval_batch: int = Field(32, gt=0, json_schema_extra=NOT_IN_KEY, description="Pairs per validation pass.")
    checkpoint_every: int = Field(25, gt=0, json_schema_extra=NOT_IN_KEY,
                                  description="Steps between checkpoints (and at the end).")


def context_length(folder: Path) -> int | None:
    config = json.loads((folder / "config.json").read_text())
    return config.get("max_position_embeddings")


def plan(p: RewardModelParams, parents, store) -> Plan:
    (pairs,) = parents
    paths = store.shard_paths(pairs)
    with store.root.fs.open_input_file(paths[0]) as fh:
        lacking = missing_columns(pq.read_schema(fh).names)
    if lacking:
        raise ValueError(f"reward-model: {pairs.ref} is not a preference dataset: it lacks {lacking}")
    folder, model_parents = resolve_model(p.model, store)      # a base model version is in the lineage
    max_length = min(p.max_length, context_length(folder) or p.max_length)
    # steps=0: the run sizes itself from `epochs` once the pairs are tokenized
    spec = spec_values(p, RewardSpec) | {"model": str(folder)}
    checked = RewardSpec(**spec | {"steps": p.steps or p.warmup_steps + 1, "pairs": "-", "out": "-",
                                   "checkpoints": "-"})     # a bad configuration fails before any process starts
    return Plan(splits=[{"spec": spec, "paths": paths, "root": store.root, "max_length": max_length}],
                parents=model_parents, sources=model_sources(folder) + [precision_source(checked)])


def run(ctx):
    work = work_folder(ctx)
    splits = [s | {"version": ctx.version, "spec": s["spec"] | {"checkpoints": str(work), "out": str(work / "final")}}
              for s in ctx.plan.splits]
    return ctx.final(run_reward_model, splits, desc="train")


REWARD_MODEL = Stage(
    name="reward-model", tags=("post-training", "model"), params=RewardModelParams, plan=plan, process=run_reward_model, schema=None, run=run,
    kind="model", code=("zhinao.tasks.reward.train", "zhinao.tasks.reward.train_rank", "zhinao.model"), inputs=("preference-data",),
    description="Bradley-Terry reward model (sequence-classification head on a causal LM) trained with DeepSpeed "
                "on preference pairs; validation accuracy and margins per category.", retries=1, retry_delay_s=2.0)
