"""rm-filter: the reward-model filter of SFT data (360Zhinao2: scores roughly normal per category; a
sample is dropped below its category's mean minus one standard deviation). The rm-score stage's
implementation, on chat datasets: the reward model reads each conversation through its chat template
and scores the last assistant turn in that context."""
from pydantic import Field

from zhinao.tasks.reward.score_stage import RMScoreParams, reward_filter_stage


class RMFilterParams(RMScoreParams):
    category_column: str = Field("domain", description="Column whose values are the categories of the rule "
                                                       "(sft-data labels: domain, intent, difficulty, length_bucket).")
    messages_column: str = Field("messages", description="The conversations (role/content messages, ending with "
                                                         "the assistant turn that is scored).")


RM_FILTER_STAGE = reward_filter_stage(
    "rm-filter", RMFilterParams, ("sft-data",),
    "Reward-model filter of a chat dataset: every conversation scored, per category the samples below "
    "mean - k*std dropped (k=1 by default).", ("post-training",))
