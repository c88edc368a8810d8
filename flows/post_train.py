"""The post-train pipeline (issue 16's half of the alignment recipe): instruction evolution, the
stratified SFT data, the reward-model filter of it (when a reward model is named), then
full-parameter SFT; each stage's output is the next one's input, so the lineage of `sft` reaches
the crawl (through the judge items, the topic classifier and the base model)."""
from prefect import flow
from pydantic import BaseModel, ConfigDict, Field

from .instruct_evolve import InstructEvolveParams, instruct_evolve
from .rm_filter import RMFilterParams, rm_filter
from .sft import SFTParams, sft
from .sft_data import SftDataParams, sft_data
from .stage import StageResult


class PostTrainParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    instruct_evolve: InstructEvolveParams = Field(default_factory=InstructEvolveParams)
    # sample-sized: the sample's judge items and evolutions are some dozens of conversations at most
    sft_data: SftDataParams = Field(default_factory=lambda: SftDataParams(target_size=400))
    rm_filter: RMFilterParams | None = Field(None, description="Filter the SFT data with a reward model (its "
                                             "`reward_model`: a model version or HF folder) before SFT.")
    sft: SFTParams = Field(default_factory=SFTParams)


@flow(name="post-train", description="Post-training on the latest model and data: instruct-evolve -> sft-data "
                                      "(stratified) -> rm-filter (mean - std per category, when a reward model is "
                                      "given) -> sft (packing, best epoch by evaluation).", persist_result=False)
def post_train(params: PostTrainParams = PostTrainParams()) -> list[StageResult]:
    results = [instruct_evolve(params.instruct_evolve)]
    evolved = {"instruct-evolve": results[0].ref} if "instruct-evolve" in params.sft_data.datasets else None
    results.append(sft_data(params.sft_data, inputs=evolved))
    if params.rm_filter is not None:
        results.append(rm_filter(params.rm_filter, inputs={"sft-data": results[-1].ref}))
    results.append(sft(params.sft.model_copy(update={"data": results[-1].ref})))
    return results
