"""pretrain-stage1 / pretrain-stage2: DeepSpeed pretraining of the GQA transformer on token shards,
each a model version (a Llama checkpoint folder with lineage to its token shards and tokenizer).

Stage 1: warmup, then cosine decay to a raised floor. Stage 2 starts from stage 1's weights on its
own (higher-quality) token mix and anneals the LR from stage 1's final value to 0. Checkpoints go
to the version's resume folder, so a killed or failed run (or a Prefect retry) resumes from the
last one with the same data order; they are removed once the model version is committed."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from zhinao.model.train_spec import TrainSpec
from zhinao.tasks.declare import Plan, Stage
from zhinao.tasks.params import NOT_IN_KEY, PLAN_READS
from zhinao.tasks.pretrain.params import StepParams, peak_flops_field
from zhinao.tasks.pretrain.run import precision_source, run_training
from zhinao.tasks.pretrain.training import check_spec, run_fields, tokenizer_of, training_splits, vocab_size


class RunParams(StepParams):
    seq_len: int = Field(128, gt=0, description="Tokens per training sequence.")
    steps: int = Field(200, gt=0, description="Optimizer steps.")
    eval_batches: int = Field(8, gt=0)
    valid_fraction: float = Field(0.05, ge=0, lt=1, description="Token windows held out for validation.")
    peak_flops: float = peak_flops_field()


class PretrainParams(RunParams):
    preset: str = Field("tiny", description="Model shape: tiny, small, 1b or 7b (zhinao/model/config.py).")
    model: dict[str, Any] = Field(default_factory=dict, description="ModelConfig overrides, e.g. "
                                  "{'n_kv_heads': 4}; vocab_size defaults to the tokenizer's, rounded up to 64.")
    max_lr: float = Field(3e-4, gt=0, description="Peak LR (360Zhinao: 3e-4).")
    warmup_steps: int = Field(10, ge=0)
    floor_ratio: float = Field(0.3, ge=0, le=1, description="The cosine ends at floor_ratio x max_lr: a raised "
                                                            "floor, so stage 2's anneal starts steep.")
    keep_optimizer_state: bool = Field(True, description=(
        "Keep the final DeepSpeed checkpoint (fp32 master weights and AdamW moments, partitioned as trained) "
        "in the model version, so stage 2 continues the optimizer instead of starting its moments at zero."))


class AnnealParams(RunParams):
    steps: int = Field(50, gt=0, description="Optimizer steps of the anneal.")
    anneal_shape: Literal["linear", "cosine"] = "linear"
    start_lr: float | None = Field(None, gt=0, description="LR the anneal starts from (default: stage 1's final LR).", json_schema_extra=PLAN_READS)
    optimizer_state: Literal["carry", "fresh"] = Field("carry", description=(
        "carry: continue stage 1's optimizer (needs stage 1's world_size, zero_stage, offload and precision); "
        "fresh: new AdamW moments on stage 1's weights."), json_schema_extra=PLAN_READS)


def plan_stage1(p: PretrainParams, parents, store) -> Plan:
    tokens = parents[0]
    tokenizer = tokenizer_of(tokens, store)
    tok_folder = store.model_path(tokenizer)
    model = {"vocab_size": vocab_size(tok_folder)} | p.model
    spec = check_spec(run_fields(p) | {"data": str(store.model_path(tokens, kind="tokens")), "model": model,
                                       "tokenizer": str(tok_folder), "schedule": "cosine_floor"})
    return Plan(splits=[{"spec": spec}], parents=[tokenizer], sources=[precision_source(spec)])


def plan_stage2(p: AnnealParams, parents, store) -> Plan:
    tokens, stage1 = parents
    if stage1.kind != "model" or stage1.dataset != "pretrain-stage1":
        raise ValueError(f"{stage1.ref} is not a pretrain-stage1 model version")
    tokenizer = tokenizer_of(tokens, store)
    made_by = [r for r in stage1.parents if r.split("@")[0] == "tokenizer"]
    if made_by and made_by[0] != tokenizer.ref:
        raise ValueError(f"{tokens.ref} was tokenized by {tokenizer.ref}, but {stage1.ref} was trained on "
                         f"{made_by[0]}: re-run tokens-stage2 with that tokenizer")
    folder = store.model_path(stage1)
    before = json.loads((folder / "train_spec.json").read_text())
    first = TrainSpec(**before).lr_schedule()
    spec = check_spec(run_fields(p) | {
        "data": str(store.model_path(tokens, kind="tokens")), "init_from": str(folder),
        "preset": before["preset"], "model": before["model"], "tokenizer": str(store.model_path(tokenizer)),
        "schedule": "anneal", "max_lr": p.start_lr or first.final_lr, "warmup_steps": 0,
        "init_state": carried_state(p, stage1, folder, before)})
    earlier = {k: getattr(first, k) for k in ("total_steps", "max_lr", "warmup_steps", "floor_ratio", "kind")}
    return Plan(splits=[{"spec": spec, "schedules_before": [["pretrain-stage1", earlier]]}], parents=[tokenizer],
                sources=[precision_source(spec)])


def carried_state(p: AnnealParams, stage1, folder: Path, before: dict[str, Any]) -> str:
    """Stage 1's DeepSpeed checkpoint for stage 2 to continue, after checking that stage 2 runs with
    the layout it was partitioned in."""
    if p.optimizer_state == "fresh":
        return ""
    state = folder / "deepspeed"
    if not state.is_dir():
        raise ValueError(f"{stage1.ref} kept no optimizer state (keep_optimizer_state=false): run stage 2 with "
                         "optimizer_state=fresh, or stage 1 again keeping it")
    world = json.loads((folder / "trainer_state.json").read_text())["world_size"]
    layout = {"world_size": world} | {k: before[k] for k in ("zero_stage", "offload_optimizer", "precision")}
    differ = [f"{k} {getattr(p, k)} (stage 1: {v})" for k, v in layout.items() if getattr(p, k) != v]
    if differ:
        raise ValueError(f"optimizer_state=carry continues {stage1.ref}'s optimizer as it was partitioned, so "
                         f"stage 2 needs its layout: {', '.join(differ)}; match it or set optimizer_state=fresh")
    return str(state)


def run(ctx):
    return ctx.final(run_training, training_splits(ctx), desc="train")


def pretrain_stage(name: str, params: type[RunParams], plan, inputs: tuple[str, ...], description: str) -> Stage:
    return Stage(name=name, params=params, plan=plan, process=run_training, schema=None, run=run, kind="model",
                 tags=("model",), pipeline="model", code=("zhinao.model", "zhinao.kernels", "zhinao.tasks.pretrain"), inputs=inputs, description=description,
                 retries=1, retry_delay_s=2.0)


PRETRAIN_STAGE1 = pretrain_stage(
    "pretrain-stage1", PretrainParams, plan_stage1, ("tokens-stage1",),
    "Pretraining stage 1 with DeepSpeed: the GQA transformer from scratch on the stage-1 token shards, "
    "warmup then cosine LR to a raised floor; checkpoints, resume, metrics with MFU, loss plot.")
PRETRAIN_STAGE2 = pretrain_stage(
    "pretrain-stage2", AnnealParams, plan_stage2, ("tokens-stage2", "pretrain-stage1"),
    "Pretraining stage 2 (anneal): from stage 1's weights on the high-quality stage-2 token shards, LR "
    "from stage 1's final value down to 0.")
