"""long-data: the training data of long-context extension (360Zhinao2: long and short SFT data mixed
and packed to 32K, then 360K). Long samples are documents of the corpus at least `min_chars` long,
or shorter ones of one topic (or source) joined to that length; short chat samples from a chat
dataset make `chat_share` of the rows. Packing to each phase's length is the training stage's
(long-phase), so one long-data version serves phases of any length."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from zhinao.tasks.declare import Plan, Stage
from zhinao.tasks.params import StageParams

from .build import LONG, build_split


class LongDataParams(StageParams):
    documents: str = Field("rebalance", description="The document dataset long samples come from (id, text, lang "
                           "and the group_by column).")
    chat: str | None = Field("sft-data", description="The chat dataset (id, messages) short samples come from; "
                             "null: long samples only.")
    min_chars: int = Field(4000, gt=0, description="Characters a long sample has at least (sample default: about "
                           "1-2K tokens of the tiny tokenizer; at scale tens of thousands).")
    group_by: Literal["topic", "source"] = Field("topic", description="Which documents are joined into one sample: "
                                                 "those of one topic (the classifier's) or one source.")
    chat_share: float = Field(0.2, ge=0, lt=1, description="Share of the rows that are short chat samples.")
    max_samples: int | None = Field(None, gt=0, description="Stop after this many long samples.")
    seed: int = 0


def plan(p: LongDataParams, parents, store) -> Plan:
    docs, *chat = parents
    names = {f["name"] for f in docs.schema}
    missing = sorted({"id", "text", p.group_by} - names)
    if missing:
        raise ValueError(f"long-data: {docs.ref} has no {missing} column(s) (group_by={p.group_by}); it has "
                         f"{sorted(names)}")
    for m in chat:
        if not {"id", "messages"} <= {f["name"] for f in m.schema}:
            raise ValueError(f"long-data: {m.ref} is not a chat dataset (id, messages)")
    split = {"root": store.root, "docs": store.shard_paths(docs), "chat": [x for m in chat for x in store.shard_paths(m)]}
    return Plan(splits=[split])


def _inputs(p: LongDataParams) -> tuple[str, ...]:
    return (p.documents,) + ((p.chat,) if p.chat else ())


LONG_DATA = Stage(
    name="long-data", tags=("post-training",), params=LongDataParams, plan=plan, process=build_split, schema=LONG,
    code=("zhinao.tasks.longdata", "zhinao.tasks.chat.schema", "zhinao.tasks.runtime.sampling"), inputs=_inputs,
    description="Long-context training data: documents (joined by topic or source) of at least min_chars, and a "
                "share of short chat samples.")
