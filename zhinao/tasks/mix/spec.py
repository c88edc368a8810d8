"""Mixture specs: which datasets feed pretraining, and in what share of tokens.

A source is a dataset (optionally filtered by column values) with a share of the mixture's tokens
and a cap on how many times its documents may be repeated (epochs). Stage 1 and stage 2 (annealing)
are two specs over the same sources: stage 2 lowers web text and raises rewritten, math, code and
instruction data (the 360Zhinao2 recipe).
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

HIGH_QUALITY_TOPICS = ["science_research", "mathematics", "code_software", "education_exams", "medicine_health",
                       "reference_encyclopedia", "technology_internet", "law_government", "finance_economy",
                       "history"]


class MixSource(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="Name of the source in the mixture (the `mix_source` column).")
    dataset: str = Field(description="DATASET or DATASET@VERSION in the store.")
    share: float = Field(gt=0, le=1, description="Share of the mixture's tokens.")
    max_epochs: float = Field(1.0, gt=0, description="Most times its documents may be repeated (1: no upsampling).")
    where: dict[str, str | list[str]] = Field(default_factory=dict, description="Keep rows whose column equals the "
                                              "value (or is one of the values).")
    text: str = Field("{text}", description="The training text, as a template over the row's columns.")
    topic_column: str | None = Field(None, description="Column copied to the output's `topic`.")

    def columns(self) -> list[str]:
        import string

        fields = {f for _, f, _, _ in string.Formatter().parse(self.text) if f}
        return sorted(fields | set(self.where) | ({self.topic_column} if self.topic_column else set()))


class MixSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    sources: list[MixSource]

    @model_validator(mode="after")
    def _check(self):
        names = [s.name for s in self.sources]
        if not self.sources:
            raise ValueError(f"mixture {self.name!r} has no sources")
        if len(set(names)) != len(names):
            raise ValueError(f"mixture {self.name!r}: source names repeat ({names})")
        total = sum(s.share for s in self.sources)
        if abs(total - 1) > 1e-6:
            raise ValueError(f"mixture {self.name!r}: shares sum to {total:.6f}, not 1")
        return self

    def datasets(self) -> tuple[str, ...]:
        """The datasets it reads at their latest version (or as the stage's `inputs` pin them);
        sources naming DATASET@VERSION are resolved on their own."""
        return tuple(sorted({s.dataset for s in self.sources if "@" not in s.dataset}))


def _items(kind: str) -> dict:
    return {"dataset": "judge", "where": {"kind": kind}, "text": "{prompt}\n\n{response}"}


STAGE1 = MixSpec(name="stage1", sources=[
    MixSource(name="web", dataset="rebalance", share=0.70, max_epochs=1, topic_column="topic"),
    MixSource(name="rewritten_web", dataset="rewrite", share=0.10, max_epochs=2),
    MixSource(name="synthetic_math", share=0.07, max_epochs=4, **_items("math")),
    MixSource(name="synthetic_code", share=0.07, max_epochs=4, **_items("code")),
    MixSource(name="instruction", share=0.06, max_epochs=4, **_items("instruction")),
])

STAGE2 = MixSpec(name="stage2", sources=[
    MixSource(name="web_high_quality", dataset="rebalance", share=0.35, max_epochs=1, topic_column="topic",
              where={"topic": HIGH_QUALITY_TOPICS}),
    MixSource(name="rewritten_web", dataset="rewrite", share=0.25, max_epochs=4),
    MixSource(name="synthetic_math", share=0.15, max_epochs=8, **_items("math")),
    MixSource(name="synthetic_code", share=0.15, max_epochs=8, **_items("code")),
    MixSource(name="instruction", share=0.10, max_epochs=8, **_items("instruction")),
])
