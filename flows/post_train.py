"""The post-train pipeline (issue 16's half of the alignment recipe): instruction evolution and
SFT data, preference pairs and a reward model, the reward-model filter of the SFT data, then
full-parameter SFT; each stage's output is the next one's input, so the lineage of `sft` reaches
the crawl (through the judge items, the classifier and the base model) and the preference data."""
from prefect import flow
from pydantic import BaseModel, ConfigDict, Field

from .instruct_evolve import InstructEvolveParams, instruct_evolve
from .preference_data import PreferenceDataParams, preference_data
from .reward_model import RewardModelParams, reward_model
from .rm_filter import RMFilterParams, rm_filter
from .sft import SFTParams, sft
from .sft_data import SftDataParams, sft_data
from .stage import StageResult


class PostTrainParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    instruct_evolve: InstructEvolveParams = Field(default_factory=InstructEvolveParams)
    # sample-sized: the sample's judge items and evolutions are some dozens of conversations
    sft_data: SftDataParams = Field(default_factory=lambda: SftDataParams(target_size=400))
    preference_data: PreferenceDataParams = Field(default_factory=PreferenceDataParams)
    reward_model: RewardModelParams = Field(default_factory=RewardModelParams)
    rm_filter: RMFilterParams = Field(default_factory=RMFilterParams)
    sft: SFTParams = Field(default_factory=SFTParams)


@flow(name="post-train", description="Post-training I on the latest model and data: instruct-evolve -> sft-data "
                                      "(stratified) -> preference-data -> reward-model -> rm-filter (mean - std per "
                                      "category) -> sft (packing, best epoch by evaluation).", persist_result=False)
def post_train(params: PostTrainParams = PostTrainParams()) -> list[StageResult]:
    evolved = instruct_evolve(params.instruct_evolve)
    chats = sft_data(params.sft_data, inputs={"instruct-evolve": evolved.ref}
                     if "instruct-evolve" in params.sft_data.datasets else None)
    pairs = preference_data(params.preference_data)
    rm = reward_model(params.reward_model, inputs={"preference-data": pairs.ref})
    kept = rm_filter(params.rm_filter.model_copy(update={"reward_model": rm.ref}), inputs={"sft-data": chats.ref})
    tuned = sft(params.sft.model_copy(update={"data": kept.ref}))
    return [evolved, chats, pairs, rm, kept, tuned]
