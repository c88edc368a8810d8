"""ablate: the small-model environment for choosing data recipes. The same model (shape, steps,
LR, seeds) is trained on each of two or more document versions and evaluated on one validation set
that no training set overlaps; the version holds the validation-loss plot, the comparison table
and every run's metrics, with lineage to the datasets compared."""
from __future__ import annotations

from pydantic import Field, field_validator

from zhinao.tasks.ablate.run import run_ablation
from zhinao.tasks.declare import Plan, Stage
from zhinao.tasks.params import PLAN_READS
from zhinao.tasks.pretrain.stage import PretrainParams
from zhinao.tasks.pretrain.training import check_spec, run_fields, vocab_size, work_folder


class AblateParams(PretrainParams):
    datasets: list[str] = Field(default_factory=list, description="Document versions to compare "
                                "(DATASET or DATASET@VERSION), at least two; the first is the reference.", json_schema_extra=PLAN_READS)
    validation: str | None = Field(None, description="Document version to validate on; default: a held-out "
                                                     "share of the first dataset.", json_schema_extra=PLAN_READS)
    held_out: float = Field(0.1, gt=0, lt=1, description="Share of the first dataset's documents (by text hash) "
                                                         "held out for validation.", json_schema_extra=PLAN_READS)
    overlap_threshold: float = Field(0.7, gt=0, le=1, description="Training documents this similar (MinHash "
                                     "Jaccard) to a validation document, or equal to one, are removed.", json_schema_extra=PLAN_READS)
    seeds: list[int] = Field(default_factory=lambda: [0], description="One run per seed and dataset; the "
                                                                      "table reports the spread.", json_schema_extra=PLAN_READS)
    eos_token: str = Field("<|endoftext|>", json_schema_extra=PLAN_READS)
    seed: int = Field(0, json_schema_extra=PLAN_READS, description="(each run's seed is one of `seeds`)")
    # a small, quick model by default: the same for every dataset, so only the data differs
    # (a new default drops the base's Field: bounds are restated; eval_every and checkpoint_every stay in the id)
    seq_len: int = Field(64, gt=0)
    steps: int = Field(120, gt=0)
    max_lr: float = Field(3e-3, gt=0)
    warmup_steps: int = Field(5, ge=0)
    eval_every: int = Field(10, ge=0)
    eval_batches: int = Field(16, gt=0)
    checkpoint_every: int = Field(60, gt=0)
    valid_fraction: float = Field(0.0, ge=0, lt=1)

    @field_validator("datasets")
    @classmethod
    def _two_or_more(cls, v: list[str]) -> list[str]:
        if len(v) < 2:
            raise ValueError("an ablation compares at least two datasets")
        if len(set(v)) != len(v):
            raise ValueError(f"datasets repeat: {v}")
        return v


def inputs(p: AblateParams) -> tuple[str, ...]:
    return tuple(p.datasets) + ((p.validation,) if p.validation else ()) + ("tokenizer",)


def plan(p: AblateParams, parents, store) -> Plan:
    *docs, tokenizer = parents
    if tokenizer.kind != "model" or tokenizer.dataset != "tokenizer":
        raise ValueError(f"{tokenizer.ref} is not a tokenizer version")
    for m in docs:
        if m.kind != "dataset" or "text" not in {f["name"] for f in m.schema}:
            raise ValueError(f"{m.ref} is not a document version (no text column)")
    folder = store.model_path(tokenizer)
    spec = check_spec(run_fields(p) | {
        "model": {"vocab_size": vocab_size(folder)} | p.model, "data": "-", "schedule": "cosine_floor",
        "keep_optimizer_state": False})      # the runs are compared, never continued
    del spec["data"]
    valid = docs.pop() if p.validation else None
    return Plan(splits=[{"root": store.root, "tokenizer": str(folder), "spec": spec,
                         "datasets": {m.ref: store.shard_paths(m) for m in docs},
                         "validation": store.shard_paths(valid) if valid else None}])


def run(ctx):
    return ctx.final(run_ablation, [s | {"work": str(work_folder(ctx)), "version": ctx.version} for s in ctx.plan.splits],
                     desc="train and compare")


ABLATE = Stage(name="ablate", tags=("model", "ablation"), params=AblateParams, plan=plan, process=run_ablation, schema=None, run=run,
               kind="report", code=("zhinao.model", "zhinao.kernels", "zhinao.tasks.ablate", "zhinao.tasks.pretrain", "zhinao.tasks.tokens"),
               inputs=inputs, retries=1, retry_delay_s=2.0,
               description="Trains the same small model on each of several document versions (fixed seeds) and "
                           "compares validation loss on one decontaminated validation set: plot and table.")
