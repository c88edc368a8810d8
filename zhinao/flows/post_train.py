"""The post-train pipeline (issue 16's half of the alignment recipe): instruction evolution and the
stratified SFT data; preference pairs and the Bradley-Terry reward model trained on them; the
reward-model filter of the SFT data with that model; then full-parameter SFT (360Zhinao: `sft-base`).
Each stage's output is the next one's input, so the lineage of `sft` reaches the crawl (through the
judge items, the topic classifier and the base model) and the preference data (through rm-filter and
the reward model)."""
from prefect import flow
from pydantic import BaseModel, ConfigDict, Field

from zhinao.tasks.evolve.stage import InstructEvolveParams
from zhinao.tasks.reward.filter_stage import RMFilterParams
from zhinao.tasks.reward.model_stage import RewardModelParams
from zhinao.tasks.reward.preference_stage import PreferenceDataParams
from zhinao.tasks.sft.stage import SFTParams
from zhinao.tasks.sftdata.stage import SftDataParams

from .stage import StageResult
from .stages import instruct_evolve, preference_data, reward_model, rm_filter, sft, sft_data


class PostTrainParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    instruct_evolve: InstructEvolveParams = Field(default_factory=InstructEvolveParams)
    # sample-sized: the sample's judge items and evolutions are some dozens of conversations at most
    sft_data: SftDataParams = Field(default_factory=lambda: SftDataParams(target_size=400))
    preference_data: PreferenceDataParams = Field(default_factory=PreferenceDataParams)
    reward_model: RewardModelParams | None = Field(default_factory=RewardModelParams, description=(
        "The reward model trained on preference_data's pairs, which rm_filter scores with; null: train none "
        "(preference_data is skipped, and rm_filter uses its own `reward_model`)."))
    rm_filter: RMFilterParams | None = Field(default_factory=RMFilterParams, description=(
        "The reward-model filter of the SFT data before SFT; null: SFT on the unfiltered sft-data."))
    sft: SFTParams = Field(default_factory=SFTParams)


@flow(name="post-train", description="Post-training on the latest model and data: instruct-evolve -> sft-data "
                                      "(stratified); preference-data -> reward-model; rm-filter of the SFT data "
                                      "(mean - std per category) -> sft (packing, best epoch by evaluation).",
      persist_result=False)
def post_train(params: PostTrainParams = PostTrainParams()) -> list[StageResult]:
    results = [instruct_evolve(params.instruct_evolve)]
    evolved = {"instruct-evolve": results[0].ref} if "instruct-evolve" in params.sft_data.datasets else None
    data = sft_data(params.sft_data, inputs=evolved)
    results.append(data)
    filtering = params.rm_filter
    if params.reward_model is not None:
        pairs = preference_data(params.preference_data)
        rm = reward_model(params.reward_model, inputs={"preference-data": pairs.ref})
        results += [pairs, rm]
        filtering = filtering and filtering.model_copy(update={"reward_model": rm.ref})
    if filtering is not None:
        data = rm_filter(filtering, inputs={"sft-data": data.ref})
        results.append(data)
    results.append(sft(params.sft.model_copy(update={"data": data.ref})))
    return results
