"""The alignment trainers as model stages (360Zhinao2, 2.2): dpo (TRL's DPOTrainer, full parameters
or a LoRA adapter), grpo (TRL's GRPOTrainer) and remax (GRPO's trainer with the greedy-answer
baseline, zhinao/tasks/align/remax.py). Each trains a model version (by default the latest sft version,
the report's `sft-base`) on a dataset version (preference-data: its pairs for DPO, its prompts and
their `verify` facts for RL), with rewards from a reward-model version and the verifiable checks.
Runs checkpoint and resume after a kill with the same losses and rollouts (zhinao/tasks/align/rank.py)."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from zhinao.tasks.align.rewards import SOURCES
from zhinao.tasks.align.run import run_align, run_dpo_lora
from zhinao.tasks.align.spec import AlignSpec
from zhinao.tasks.declare import Plan, Stage
from zhinao.tasks.generate.models import model_sources, resolve_model
from zhinao.tasks.params import NAMES_VERSION, NOT_IN_KEY, PLAN_READS, StageParams, spec_values
from zhinao.tasks.pretrain.training import training_splits


class LoraParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    r: int = Field(256, gt=0, description="LoRA rank (360Zhinao2: 256).")
    alpha: int = Field(512, gt=0, description="LoRA alpha (360Zhinao2: 512).")
    dropout: float = Field(0.05, ge=0, lt=1, description="LoRA dropout (360Zhinao2: 0.05).")
    target_modules: list[str] | None = Field(None, description="Modules adapted (default: every linear layer).")
    quantize: bool = Field(False, description="QLoRA: a 4-bit base under the adapter (CUDA with bitsandbytes "
                                              "only); the merge always goes into the full-precision weights.")


class AlignParams(StageParams):
    # in the version id as what they name (the input's version, the model version or its files)
    data: str = Field("preference-data", json_schema_extra={**NOT_IN_KEY, **PLAN_READS, **NAMES_VERSION}, description=(
        "The training data (DATASET[@VERSION]): preference pairs (prompt, chosen, rejected); RL reads its "
        "prompts and their `verify` facts."))
    model: str = Field("sft", json_schema_extra={**NOT_IN_KEY, **PLAN_READS, **NAMES_VERSION}, description=(
        "The model trained: a model version (default the latest sft, the report's sft-base), a local HF folder, "
        "or 'smollm2-135m-instruct'."))
    steps: int = Field(8, gt=0, description="Optimizer steps.")
    batch_size: int = Field(4, gt=0, description="Rows per micro-step (DPO: pairs; GRPO/ReMax: completions).")
    grad_accum: int = Field(1, gt=0)
    lr: float = Field(5e-5, gt=0, description="Peak learning rate (cosine after warmup).")
    warmup_steps: int = Field(0, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    precision: Literal["float32", "bf16"] = "float32"
    seed: int = 0
    checkpoint_every: int = Field(4, gt=0, json_schema_extra=NOT_IN_KEY, description="Steps between checkpoints.")


class DPOParams(AlignParams):
    beta: float = Field(0.1, gt=0, description="DPO's beta (the KL strength).")
    loss_type: str = Field("sigmoid", description="TRL's DPO loss: sigmoid (DPO), ipo, hinge, robust, ...")
    max_length: int = Field(512, gt=0, description="Prompt + answer tokens (360Zhinao2's LoRA DPO: 2048).")
    lora: LoraParams | None = Field(None, description="Train a LoRA adapter instead of every parameter.", json_schema_extra=PLAN_READS)


class DPOLoraParams(DPOParams):
    lora: LoraParams = Field(default_factory=LoraParams, description="The adapters' LoRA (360Zhinao2: r 256, "
                                                                     "alpha 512, dropout 0.05; QLoRA on GPU).", json_schema_extra=PLAN_READS)
    max_length: int = Field(2048, gt=0, description="Prompt + answer tokens (360Zhinao2: 2048).")
    split_by: str = Field("lang", description="One adapter per value of this column of the pairs (the report: "
                                              "a Chinese and an English preference set).", json_schema_extra=PLAN_READS)
    weights: dict[str, float] | None = Field(None, description="Each adapter's weight in the merge, by set "
                                             "(default 1 each: base + the sum of the adapters' deltas).", json_schema_extra=PLAN_READS)


class RLParams(AlignParams):
    lr: float = Field(1e-5, gt=0, description="Peak learning rate (cosine after warmup).")
    beta: float = Field(0.04, ge=0, description="KL coefficient to the reference (the starting model).")
    num_generations: int = Field(4, ge=2, description="Answers sampled per prompt (GRPO's group size).")
    max_completion_length: int = Field(48, gt=0, description="Tokens per sampled answer.")
    temperature: float = Field(1.0, gt=0, description="Sampling temperature of the rollouts.")
    loss_type: Literal["grpo", "dapo", "dr_grpo", "bnpo"] = Field("grpo", description="TRL's GRPO loss "
                                                                   "normalisation.")
    scale_rewards: Literal["group", "batch", "none"] = Field("group", description=(
        "GRPO: advantages divided by the group's (or batch's) reward std, or not scaled. ReMax never scales."))
    rewards: dict[str, float] = Field(default_factory=lambda: {"reward_model": 1.0, "math": 1.0, "ifeval": 1.0},
                                      description=f"Reward sources and weights ({', '.join(SOURCES)}); the reward "
                                                  "is their weighted sum over the sources that apply to a prompt.", json_schema_extra=PLAN_READS)
    reward_model: str | None = Field("reward-model", json_schema_extra={**NOT_IN_KEY, **PLAN_READS, **NAMES_VERSION}, description=(
        "The reward model (a reward-model version or folder), when rewards.reward_model is non-zero."))
    backend: Literal["auto", "transformers", "vllm"] = Field("auto", description=(
        "Rollouts: vLLM colocated with training (CUDA), or transformers' generate; auto: vLLM when it runs."), json_schema_extra=PLAN_READS)

    @model_validator(mode="after")
    def _check(self) -> "RLParams":
        if self.batch_size % self.num_generations:
            raise ValueError(f"batch_size {self.batch_size} (completions) is not a multiple of num_generations "
                             f"{self.num_generations}")
        return self


def _uses_vllm(backend: str) -> bool:
    if backend == "transformers":
        return False
    import importlib.util

    import torch

    runs = torch.cuda.is_available() and importlib.util.find_spec("vllm") is not None
    if backend == "vllm" and not runs:
        raise ValueError("backend=vllm: colocated vLLM rollouts need CUDA and vllm in this environment")
    return runs


def plan(p: AlignParams, parents, store) -> Plan:
    (data,) = parents
    if data.kind != "dataset" or not data.rows:
        raise ValueError(f"{data.ref}: {'no rows' if data.kind == 'dataset' else 'a ' + data.kind + ' version'}; "
                         "alignment trains on a dataset of prompts or pairs")
    folder, model_parents = resolve_model(p.model, store)
    sources = [s | {"name": f"policy/{s['name']}"} for s in model_sources(folder)]
    spec: dict[str, Any] = spec_values(p, AlignSpec) | {"model": str(folder), "method": _method(p)}
    if isinstance(p, DPOParams) and p.lora:
        spec |= {"lora": p.lora.model_dump(exclude={"quantize"}), "quantize": p.lora.quantize}
    if isinstance(p, RLParams):
        spec |= {"rewards": dict(p.rewards), "use_vllm": _uses_vllm(p.backend)}
        sources.append({"name": "resolved/rollouts", "fingerprint": "vllm" if spec["use_vllm"] else "transformers"})
        if p.rewards.get("reward_model"):
            if not p.reward_model:
                raise ValueError("rewards.reward_model is non-zero but no reward_model is named")
            rm, rm_parents = resolve_model(p.reward_model, store)
            spec["reward_model"] = str(rm)
            model_parents += [m for m in rm_parents if m.ref not in {x.ref for x in model_parents}]
            sources += [s | {"name": f"reward_model/{s['name']}"} for s in model_sources(rm)]
    AlignSpec(**spec | {"data": "-", "out": "-", "checkpoints": "-"})      # a bad configuration fails here
    split = {"spec": spec, "root": store.root, "paths": store.shard_paths(data), "data_ref": data.ref}
    if isinstance(p, DPOLoraParams):
        if p.split_by not in [f["name"] for f in data.schema]:
            raise ValueError(f"{data.ref} has no column {p.split_by!r} to split the preference sets by")
        split |= {"split_by": p.split_by, "weights": p.weights}
    return Plan(splits=[split], parents=model_parents, sources=sources)


def _method(p: AlignParams) -> str:
    return p.method if isinstance(p, RLParams) else "dpo"


class GRPOParams(RLParams):
    method: Literal["grpo"] = Field("grpo", json_schema_extra=NOT_IN_KEY, description="(fixed)")


class ReMaxParams(RLParams):
    method: Literal["remax"] = Field("remax", json_schema_extra=NOT_IN_KEY, description="(fixed)")


def _inputs(p: AlignParams) -> tuple[str, ...]:
    return (p.data,)


def align_stage(name: str, params: type[AlignParams], description: str, process=run_align) -> Stage:
    def driver(ctx):
        return ctx.final(process, training_splits(ctx), desc="train")

    return Stage(name=name, params=params, plan=plan, process=process, schema=None, run=driver, kind="model",
                 tags=("post-training", "alignment", "model"),
                 code=("zhinao.tasks.align", "zhinao.tasks.reward.scorer"), inputs=_inputs, retries=1, retry_delay_s=2.0,
                 description=description)


DPO = align_stage("dpo", DPOParams, "DPO (TRL) of a model version on preference pairs: full parameters, or a LoRA "
                                    "adapter (lora=...); reference = the starting model.")
GRPO = align_stage("grpo", GRPOParams, "GRPO (TRL) of a model version: sampled groups per prompt, rewards from a "
                                       "reward model and verifiable checks, group-normalised advantages.")
DPO_LORA = align_stage("dpo-lora", DPOLoraParams, "LoRA DPO (TRL + PEFT; QLoRA on GPU): one adapter per preference "
                      "set (split_by, e.g. lang), all merged into the base's full-precision weights.", run_dpo_lora)
REMAX = align_stage("remax", ReMaxParams, "ReMax: GRPO's rollouts, rewards and update with the greedy answer's "
                                          "reward as the baseline (no value network, no group statistics).")
