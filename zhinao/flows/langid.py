"""langid: fastText lid.176 language + score, CJK script fixes, keep-list and threshold."""
from pydantic import Field

from zhinao.tasks.bounds import Fraction
from zhinao.tasks.langid.stage import ADDED, langid_batch

from .docstage import document_stage
from .params import StageParams
from .stage import make_flow


class LangIdParams(StageParams):
    keep: list[str] = Field(default_factory=lambda: ["zh", "en"],
                            description="Languages to keep (ISO 639 codes as lid.176 gives them); 'zh-Hans' or "
                                        "'zh-Hant' keeps one Chinese script only; empty keeps all.")
    min_score: float = Field(0.65, ge=0, le=1, description="Drop documents whose top language probability is lower.")
    min_score_by_lang: dict[str, Fraction] = Field(default_factory=dict,
                                                description="Per-language thresholds overriding min_score.")


LANGID = document_stage(
    "langid", LangIdParams, langid_batch, ADDED, code=("zhinao.tasks.langid", "zhinao.tasks.runtime.mapper"),
    input="extract", description="Language ID with fastText lid.176; keeps the configured languages.")

langid = make_flow(LANGID)
