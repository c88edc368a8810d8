"""The dpo-iterative pipeline (360Zhinao2's iterative on-policy DPO): round r samples pairs from the
round's starting model and scores them with the reward model (dpo-pairs), then DPO trains that
model on them with itself as the reference (dpo); the next round starts from the model it made.
Each round's pairs are a dataset version and each round's model a model version, so the lineage of
the last model runs through every round."""
from __future__ import annotations

from prefect import flow
from pydantic import BaseModel, ConfigDict, Field

from zhinao.tasks.align.pairs_stage import DPOPairsParams
from zhinao.tasks.align.stage import DPOParams
from zhinao.tasks.generate.models import resolve_model
from zhinao.tasks.store import Store
from zhinao.tasks.home import open_store

from .stage import StageResult
from .stages import dpo, dpo_pairs


class DPOIterativeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = Field("sft", description="The first round's model (default: the latest sft version).")
    rounds: int = Field(2, ge=1, description="Rounds of sample -> score -> pair -> DPO.")
    pairs: DPOPairsParams = Field(default_factory=DPOPairsParams, description=(
        "Each round's dpo-pairs (its model is the round's; its seed advances by the round)."))
    dpo: DPOParams = Field(default_factory=DPOParams, description="Each round's dpo (model and data: the round's).")


def pinned(name: str, store: Store | None = None) -> str:
    """A model name as the version it means now (DATASET -> DATASET@VERSION); folders stay as they are."""
    _, parents = resolve_model(name, store or open_store())
    return parents[0].ref if parents else name


@flow(name="dpo-iterative", description="Iterative on-policy DPO: rounds of dpo-pairs (sample n, RM score, best vs "
                                         "worst) then dpo from the round's model.", persist_result=False)
def dpo_iterative(params: DPOIterativeParams = DPOIterativeParams()) -> list[StageResult]:
    model, results = pinned(params.model), []
    for r in range(params.rounds):
        pairs = dpo_pairs(params.pairs.model_copy(update={"model": model, "seed": params.pairs.seed + r}))
        trained = dpo(params.dpo.model_copy(update={"model": model, "data": pairs.ref}))
        results += [pairs, trained]
        model = trained.ref
    return results
