"""quality: Gopher quality + repetition, C4 and FineWeb rules, each named and configurable."""
from pydantic import Field

from zhinao.tasks.quality.c4 import C4Config
from zhinao.tasks.quality.fineweb import FineWebConfig
from zhinao.tasks.quality.gopher import GopherQualityConfig, GopherRepetitionConfig
from zhinao.tasks.quality.stage import ADDED, quality_batch

from .docstage import document_stage
from .params import StageParams
from .stage import make_flow


class QualityParams(StageParams):
    filters: list[str] = Field(default_factory=lambda: ["gopher_repetition", "gopher_quality", "c4", "fineweb"],
                               description="Filters to apply, in order; the first failure is the drop reason "
                                           "(`<filter>.<rule>`).")
    gopher_repetition: GopherRepetitionConfig = Field(default_factory=GopherRepetitionConfig)
    gopher_quality: GopherQualityConfig = Field(default_factory=GopherQualityConfig)
    c4: C4Config = Field(default_factory=C4Config)
    fineweb: FineWebConfig = Field(default_factory=FineWebConfig)
    all_signals: bool = Field(False, description="Compute every filter's signals even after one fails (slower).")
    max_chars: int = Field(2_000_000, gt=0, description="Longer documents are dropped as 'too_long' unread.")


QUALITY = document_stage(
    "quality", QualityParams, quality_batch, ADDED, code=("zhinao.tasks.quality", "zhinao.tasks.runtime.mapper"),
    input="langid", description="Heuristic quality filters with signals as columns and drop reasons.")

quality = make_flow(QUALITY)
