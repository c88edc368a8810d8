"""long-phase: one phase of long-context extension (360Zhinao2: 4K with RoPE base 1e4 -> 32K with
1e6 -> 360K with 5e7). The model's RoPE base is raised to `rope_theta` and its length limit to
`max_len`, and it is fine-tuned on long-data packed to max_len, with SFT's loop (DeepSpeed ZeRO 0-3,
offload, activation checkpointing, epochs, resume) and each sequence split over `sp_size` ranks
(ring attention or DeepSpeed Ulysses) with the logits made `loss_chunk` tokens at a time. The
version is a model whose config carries the new RoPE base and limit; the long-context pipeline
(zhinao/flows/long_context.py) runs phases one after another."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from zhinao.tasks.declare import Stage
from zhinao.tasks.eval.stage import EvalParams
from zhinao.tasks.params import NAMES_VERSION, NOT_IN_KEY, PLAN_READS, fills
from zhinao.tasks.sft.recipe import resolve
from zhinao.tasks.sft.run import run_sft
from zhinao.tasks.sft.stage import SFTParams, run, training_plan

from .data import COLUMNS, prepare_long

RECIPES: dict[str, dict[str, Any]] = {
    # at scale: the article's first phase (32K); lr, batch and epochs as EasyContext's (the article gives none)
    "seed": {"max_len": 32768, "lr": 2e-5, "batch_size": 32, "micro_batch": 1, "weight_decay": 0.0, "epochs": 1},
    # the tiny model on the sample: 256 -> 1024 tokens, some dozen packed rows
    "sample": {"max_len": 1024, "lr": 5e-4, "batch_size": 4, "micro_batch": 2, "weight_decay": 0.0, "epochs": 2},
}


def long_phase(p: "LongPhaseParams", parents, store) -> Any:
    data = parents[0]
    names = {f["name"] for f in data.schema}
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise ValueError(f"{data.ref} has no {missing} column(s): long-phase trains on a long-data version "
                         f"(id, kind, text, messages, lang); it has {sorted(names)}")
    return training_plan(p, data, store, {"rope_theta": p.rope_theta or 0.0, "max_seq_len": p.max_len})


class LongPhaseParams(SFTParams):
    data: str = Field("long-data", json_schema_extra={**NOT_IN_KEY, **PLAN_READS, **NAMES_VERSION},
                      description="The long-data version trained on (DATASET[@VERSION]).")
    model: str = Field("chat-model", json_schema_extra={**NOT_IN_KEY, **PLAN_READS, **NAMES_VERSION},
                       description="The model extended: a model version, or the previous phase's.")
    recipe: Literal["sample", "seed"] = Field("sample", json_schema_extra=NOT_IN_KEY, description=(
        "Where the unset hyper-parameters come from: seed = 32768 tokens, lr 2e-5, batch 32, micro-batch 1, no "
        "weight decay, 1 epoch (EasyContext's values: the report gives none); sample = 1024 tokens, lr 5e-4, "
        "batch 4, micro-batch 2, 2 epochs, for the tiny model on the sample."))
    max_len: int | None = Field(None, gt=0, description="The phase's context: tokens per packed row and the model's "
                                "new length limit (seed 32768, sample 1024); a multiple of 2 x sp_size.",
                                json_schema_extra=fills("seq_len"))
    lr: float | None = Field(None, gt=0, description="Peak learning rate (seed 2e-5, sample 5e-4); warmup, then "
                             "cosine.", json_schema_extra=fills("max_lr"))
    batch_size: int | None = Field(None, gt=0, description="Packed rows per optimizer step (seed 32, sample 4); a "
                                   "multiple of micro_batch x world_size / sp_size.", json_schema_extra=PLAN_READS)
    micro_batch: int | None = Field(None, gt=0, description="Rows per sequence-parallel group per micro-step "
                                    "(seed 1, sample 2).")
    weight_decay: float | None = Field(None, ge=0, description="AdamW weight decay (seed and sample 0).")
    epochs: int | None = Field(None, gt=0, description="Passes over the data (seed 1, sample 2); the best epoch by "
                               "select_metric is the version.", json_schema_extra=fills("steps"))
    rope_theta: float | None = Field(None, gt=0, description="The phase's RoPE base (360Zhinao2: 1e6 for 32K, 5e7 "
                                     "for 360K); null: the model's own.", json_schema_extra=PLAN_READS)
    long_loss: Literal["all", "assistant"] = Field("all", description=(
        "all: the pretraining loss on every token of a long document (the report: much better); assistant: a "
        "long document is a user turn and its last passage the assistant's, loss on that only."),
        json_schema_extra=PLAN_READS)
    sp_size: int = Field(1, gt=0, description="Ranks one sequence is split over (sequence parallelism); a divisor "
                         "of world_size, and max_len a multiple of 2 x sp_size.")
    sp_backend: Literal["ring", "ulysses"] = Field("ring", description=(
        "ring: ring attention (any number of KV heads); ulysses: DeepSpeed's all-to-all over heads (KV heads a "
        "multiple of sp_size)."))
    loss_chunk: int = Field(4096, gt=0, description="Tokens whose logits exist at once under sequence "
                                                    "parallelism (the full sequence x vocabulary never does).")
    evaluation: EvalParams = Field(default_factory=lambda: EvalParams(tasks=[]), description=(
        "Each epoch's evaluation (default none: the best epoch by held-out loss; the long-context pipeline "
        "evaluates each phase's model with the evaluate stage)."), json_schema_extra=PLAN_READS)

    @model_validator(mode="after")
    def _fill_from_recipe(self) -> "LongPhaseParams":
        for name, value in resolve(self.recipe, self.__dict__, RECIPES).items():
            object.__setattr__(self, name, value)
        if self.world_size % self.sp_size:
            raise ValueError(f"world_size {self.world_size} is not a multiple of sp_size {self.sp_size}")
        if self.sp_size > 1 and self.max_len % (2 * self.sp_size):
            raise ValueError(f"max_len {self.max_len} does not split into 2 x sp_size {self.sp_size} equal chunks "
                             "(the zigzag split): make it a multiple of that")
        return self


def _inputs(p: LongPhaseParams) -> tuple[str, ...]:
    return (p.data,)


def run_long(split, params, sink, stats) -> None:
    run_sft(split, params, sink, stats, prepare_data=prepare_long)


LONG_PHASE = Stage(
    name="long-phase", tags=("post-training", "model"), params=LongPhaseParams, plan=long_phase, process=run_long,
    schema=None, run=run, kind="model", inputs=_inputs, retries=1, retry_delay_s=2.0,
    code=("zhinao.model", "zhinao.kernels", "zhinao.tasks.sft", "zhinao.tasks.longctx", "zhinao.tasks.pretrain",
          "zhinao.tasks.eval"),
    description="One phase of long-context extension: RoPE base and length limit raised, fine-tuned on long-data "
                "packed to the phase's length, sequence-parallel (ring or Ulysses) on DeepSpeed.")
