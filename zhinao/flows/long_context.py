"""The long-context pipeline (360Zhinao2, 2.4): a model extended in phases, each a long-phase run
(RoPE base raised, length limit raised, long-data packed to the phase's length) starting from the
previous phase's model, so every phase is a model version whose lineage runs through the phases
before it to the parent model and the long data. The parent and every phase are evaluated with the
same evaluate parameters (needle in a haystack on one grid of lengths, the lengths over a model's
limit skipped and counted; perplexity by position), so `zhinao compare --ancestors N long-phase`
lines them up."""
from __future__ import annotations

from typing import Any

from prefect import flow
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from zhinao.tasks.eval.stage import EvalParams
from zhinao.tasks.longctx.stage import LongPhaseParams
from zhinao.tasks.longdata.stage import LongDataParams

from .dpo_iterative import pinned
from .stage import StageResult
from .stages import evaluate, long_data, long_phase


class Phase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_len: PositiveInt = Field(description="The phase's context length (tokens per packed row, the new limit).")
    rope_theta: float = Field(gt=0, description="The phase's RoPE base.")
    data: str | None = Field(None, description="A long-data version (DATASET[@VERSION]); null: the one this "
                             "pipeline makes with `long_data`.")
    params: dict[str, Any] = Field({}, description="This phase's long-phase params over `training`'s "
                                   "(e.g. world_size and sp_size for a phase that needs sequence parallelism).")


def _sample_phases() -> list[Phase]:
    # the tiny chat model's 256 tokens and base 1e4 -> 1024 with 1e5 -> 2048 with 1e6, the second
    # phase with each sequence split over 2 ranks (ring attention)
    return [Phase(max_len=1024, rope_theta=1e5),
            Phase(max_len=2048, rope_theta=1e6, params={"world_size": 2, "sp_size": 2})]


def _sample_evaluation() -> EvalParams:
    # fact and value needles: the tiny tokenizer spends some 240 tokens on multikey's needles and
    # question alone, more than the 256 the parent takes (zhinao run evaluate -p niah_variants=... has them)
    return EvalParams(tasks=["perplexity", "niah"], niah_mode="teacher-forced", niah_lengths=[256, 1024, 2048],
                      niah_depths=3, perplexity_max_chars=None, limit=8)


class LongContextParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = Field("chat-model", description="The model extended (default: the latest chat-model version).")
    phases: list[Phase] = Field(default_factory=_sample_phases, min_length=1, description=(
        "Phases in order, each from the previous one's model (at scale: 32768 with 1e6, then 360K with 5e7)."))
    long_data: LongDataParams = Field(default_factory=LongDataParams, description="The long-data run the phases "
                                      "train on unless a phase names its data.")
    training: LongPhaseParams = Field(default_factory=LongPhaseParams, description=(
        "Every phase's long-phase params (its model, data, max_len and rope_theta: the phase's)."))
    evaluation: EvalParams | None = Field(default_factory=_sample_evaluation, description=(
        "The evaluate stage's params for the parent and each phase (its model: theirs); null: no evaluation."))


def phase_params(params: LongContextParams, phase: Phase, model: str, data: str) -> LongPhaseParams:
    """A phase's long-phase params: the shared `training`, the phase's overrides, its model and data."""
    values = params.training.model_dump(exclude_unset=True) | phase.params | {
        "model": model, "data": data, "max_len": phase.max_len, "rope_theta": phase.rope_theta}
    return LongPhaseParams(**values)


@flow(name="long-context", description="Long-context extension in phases: long-data, then per phase long-phase "
                                        "(RoPE base and limit raised) and its evaluation (NIAH, perplexity by position).",
      persist_result=False)
def long_context(params: LongContextParams = LongContextParams()) -> list[StageResult]:
    lengths = [phase.max_len for phase in params.phases]
    if lengths != sorted(set(lengths)):
        raise ValueError(f"phases must grow in length, got {lengths}")
    for phase in params.phases:          # every phase's params checked before the first trains
        phase_params(params, phase, "-", "-")
    model, results = pinned(params.model), []
    if params.evaluation is not None:
        results.append(evaluate(params.evaluation.model_copy(update={"model": model})))
    data = None
    for phase in params.phases:
        if phase.data is None and data is None:
            data = long_data(params.long_data)
            results.append(data)
        trained = long_phase(phase_params(params, phase, model, phase.data or data.ref))
        results.append(trained)
        model = trained.ref
        if params.evaluation is not None:
            results.append(evaluate(params.evaluation.model_copy(update={"model": model})))
    return results
