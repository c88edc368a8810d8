"""sft: full-parameter supervised fine-tuning of a model version on a chat dataset version, with the
pretraining loop's DeepSpeed engine (ZeRO 0-3, offload, activation checkpointing), checkpoints,
metrics and resume. Conversations go through the model's own chat template (the tokenizer stage's
ChatML), the loss covers assistant tokens only, samples are packed to max_len (naive by default,
document-masked as an option); every epoch's model is evaluated with the evaluate stage's tasks,
and the best epoch by `select_metric` is the version (360Zhinao: `sft-base`)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from zhinao.model.hf import config_from_hf
from zhinao.tasks.declare import Plan, Stage
from zhinao.tasks.eval.stage import EvalParams, eval_file_sources
from zhinao.tasks.generate.models import DEFAULT_GENERATOR, model_sources, resolve_model
from zhinao.tasks.params import NAMES_VERSION, NOT_IN_KEY, PLAN_READS, fills
from zhinao.tasks.pretrain.params import DeepSpeedParams, peak_flops_field
from zhinao.tasks.pretrain.run import precision_source
from zhinao.tasks.pretrain.training import check_spec, run_fields, training_splits
from zhinao.tasks.sft.data import check_chat_schema
from zhinao.tasks.sft.epochs import VALID_LOSS, check_metric
from zhinao.tasks.sft.recipe import RECIPES, resolve
from zhinao.tasks.sft.render import ChatRenderer
from zhinao.tasks.sft.run import run_sft


SEED, SAMPLE = RECIPES["seed"], RECIPES["sample"]


def _recipe(name: str) -> str:
    return f"seed {SEED[name]}, sample {SAMPLE[name]}"


class SFTParams(DeepSpeedParams):
    # data and model enter the version id as what they name (the input's version id, the model's files)
    data: str = Field("rm-filter", json_schema_extra={**NOT_IN_KEY, **PLAN_READS, **NAMES_VERSION}, description="The chat dataset trained on (DATASET[@VERSION] with `id` and "
                      "`messages`): by default the latest rm-filter version; sft-data@... or instruct-evolve@... too.")
    model: str = Field("pretrain-stage2", json_schema_extra={**NOT_IN_KEY, **PLAN_READS, **NAMES_VERSION}, description="The model fine-tuned: a model version (DATASET[@VERSION]), "
                       f"a local Hugging Face Llama folder, or '{DEFAULT_GENERATOR}'. Its tokenizer's chat template "
                       "renders the conversations and goes with the version.")
    recipe: Literal["sample", "seed"] = Field("sample", json_schema_extra=NOT_IN_KEY, description=(
        "Where the unset hyper-parameters come from: seed = the 360Zhinao values at scale (max_len 8192, lr 1e-5, "
        "batch 128, weight decay 0.1, 6 epochs); sample = small values for the tiny model on the sample crawl."))
    max_len: int | None = Field(None, gt=0, description=f"Tokens per packed row ({_recipe('max_len')}).", json_schema_extra=fills("seq_len"))
    lr: float | None = Field(None, gt=0, description=f"Peak learning rate ({_recipe('lr')}); warmup, then cosine.", json_schema_extra=fills("max_lr"))
    batch_size: int | None = Field(None, gt=0, description=f"Packed rows per optimizer step over all ranks "
                                   f"({_recipe('batch_size')}); a multiple of micro_batch x world_size.", json_schema_extra=PLAN_READS)
    micro_batch: int | None = Field(None, gt=0, description=f"Rows per rank per micro-step ({_recipe('micro_batch')}).")
    weight_decay: float | None = Field(None, ge=0, description=f"AdamW weight decay ({_recipe('weight_decay')}).")
    epochs: int | None = Field(None, gt=0, description=f"Passes over the data ({_recipe('epochs')}); every epoch "
                               "is evaluated, the best is the version.", json_schema_extra=fills("steps"))
    packing: Literal["naive", "document", "none"] = Field("naive", description=(
        "naive: samples concatenated and cut into max_len rows, attention across samples (the report's choice, "
        "which found per-document masks worse); document: whole samples per row, positions restarting and "
        "attention masked per sample; none: one sample per row, padded."), json_schema_extra=PLAN_READS)
    overlong: Literal["truncate", "drop"] = Field("truncate", description="A sample longer than max_len is cut to "
                                                  "max_len tokens or dropped (counted either way).", json_schema_extra=PLAN_READS)
    peak_flops: float = peak_flops_field()
    warmup_ratio: float = Field(0.03, ge=0, lt=1, description="Share of the steps spent warming the LR up.", json_schema_extra=PLAN_READS)
    floor_ratio: float = Field(0.0, ge=0, le=1, description="The cosine ends at floor_ratio x lr.")
    valid_fraction: float = Field(0.05, ge=0, lt=1, description="Samples held out (by id hash) for the held-out "
                                  "assistant-token loss and the perplexity task; at least one.", json_schema_extra=PLAN_READS)
    select_metric: str = Field(VALID_LOSS, description="What picks the best epoch: valid_loss (held-out "
                               "assistant-token loss, lower is better) or an evaluated task (its headline metric: "
                               "perplexity bits per byte, lower; mc, gsm8k, ifeval, niah accuracy, higher).", json_schema_extra=PLAN_READS)
    evaluation: EvalParams = Field(default_factory=lambda: EvalParams(
        tasks=["perplexity", "ifeval"], max_tokens=64, limit=12), description=(
        "The evaluate stage's parameters for each epoch's model (its `model` and `perplexity_data` are not used: "
        "perplexity runs on the held-out conversations)."), json_schema_extra=PLAN_READS)

    @model_validator(mode="after")
    def _fill_from_recipe(self) -> "SFTParams":
        for name, value in resolve(self.recipe, self.__dict__).items():
            object.__setattr__(self, name, value)
        return self

    def key_params(self) -> dict[str, Any]:
        out = super().key_params()
        out["evaluation"] = {k: v for k, v in self.evaluation.key_params().items()
                             if k not in ("model", "perplexity_data")}
        return out


def _model_parents(p: SFTParams, store) -> tuple[Path, list, str]:
    path, parents = resolve_model(p.model, store)
    return path, parents, parents[0].ref if parents else p.model


def plan(p: SFTParams, parents, store) -> Plan:
    data = parents[0]
    if data.kind != "dataset":
        raise ValueError(f"{data.ref} is a {data.kind} version; SFT trains on a chat dataset")
    check_chat_schema([f["name"] for f in data.schema], data.ref)
    return training_plan(p, data, store)


def training_plan(p: SFTParams, data, store, spec: dict[str, Any] | None = None) -> Plan:
    """The plan of a packed-sample training run (sft, long-phase) on the dataset version `data`:
    `spec` adds to the run spec. A sequence split over sp_size ranks makes the data-parallel
    width world_size / sp_size."""
    if data.rows == 0:
        raise ValueError(f"{data.ref} has no rows: nothing to fine-tune on")
    dp = p.world_size // getattr(p, "sp_size", 1)
    if p.batch_size % (p.micro_batch * dp):
        raise ValueError(f"batch_size {p.batch_size} is not a multiple of micro_batch {p.micro_batch} x "
                         f"data-parallel ranks {dp}")
    check_metric(p.select_metric, p.evaluation.tasks)
    path, model_parents, model_ref = _model_parents(p, store)
    config_from_hf(path)                      # a Llama checkpoint, or a clear error
    ChatRenderer.from_folder(path)            # a chat template, or a clear error
    # epochs are counted in steps of one epoch each until the packed rows are known (run.run_spec)
    spec = check_spec(run_fields(p) | {
        "data": "-", "init_from": str(path), "tokenizer": str(path), "source": "packed", "epoch_steps": 1,
        "grad_accum": p.batch_size // (p.micro_batch * dp), "schedule": "cosine_floor"} | (spec or {}))
    split = {"spec": spec, "root": store.root, "paths": store.shard_paths(data), "data_ref": data.ref,
             "model_path": str(path), "model_ref": model_ref}
    sources = model_sources(path) + eval_file_sources(p.evaluation) + [precision_source(spec)]
    return Plan(splits=[split], parents=model_parents, sources=sources)


def run(ctx):
    splits = [s | {"work": s["spec"]["checkpoints"]} for s in training_splits(ctx)]
    return ctx.final(ctx.stage.process, splits, desc=ctx.stage.name)


def _inputs(p: SFTParams) -> tuple[str, ...]:
    return (p.data,)


SFT = Stage(name="sft", tags=("post-training", "model"), params=SFTParams, plan=plan, process=run_sft, schema=None, run=run, kind="model",
            code=("zhinao.model", "zhinao.kernels", "zhinao.tasks.sft", "zhinao.tasks.pretrain", "zhinao.tasks.eval"), inputs=_inputs,
            retries=1, retry_delay_s=2.0,
            description="Full-parameter SFT of a model version on a chat dataset (assistant tokens only, packed, "
                        "DeepSpeed ZeRO 0-3); every epoch evaluated, the best one is the version.")
