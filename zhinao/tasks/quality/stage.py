"""quality: run the named filters in order; signals become columns, the first failure the drop reason."""
from __future__ import annotations

import pyarrow as pa
from typing import Any, Callable

from pydantic import BaseModel, Field

from ..params import StageParams
from ..runtime.docstage import document_stage
from ..runtime.mapper import split_by_reason
from ..stats import StageStats
from .c4 import C4Config, c4
from .fineweb import FineWebConfig, fineweb
from .gopher import GopherQualityConfig, GopherRepetitionConfig, gopher_quality, gopher_repetition
from .text import Doc


Filter = Callable[[Doc, Any], tuple[dict[str, float], str | None]]
FILTERS: dict[str, tuple[Filter, type[BaseModel]]] = {
    "gopher_repetition": (gopher_repetition, GopherRepetitionConfig),
    "gopher_quality": (gopher_quality, GopherQualityConfig),
    "c4": (c4, C4Config),
    "fineweb": (fineweb, FineWebConfig),
}
SIGNALS = (
    ["gq_words", "gq_avg_word_length", "gq_symbol_word_ratio", "gq_bullet_lines_ratio", "gq_ellipsis_lines_ratio",
     "gq_alpha_words_ratio", "gq_stop_words", "gr_dup_para_frac", "gr_dup_para_char_frac", "gr_dup_line_frac",
     "gr_dup_line_char_frac"]
    + [f"gr_top_{n}_gram" for n in (2, 3, 4)] + [f"gr_dup_{n}_gram" for n in range(5, 11)]
    + ["c4_bad_lines_ratio", "c4_sentences", "fw_line_punct_ratio", "fw_short_line_ratio", "fw_char_dup_ratio",
       "fw_new_line_ratio"]
)
ADDED = tuple(pa.field(name, pa.float32()) for name in SIGNALS)


def quality_batch(table: pa.Table, params: Any, stats: StageStats) -> tuple[pa.Table, pa.Table]:
    unknown = [f for f in params.filters if f not in FILTERS]
    if unknown:
        raise ValueError(f"unknown quality filter(s) {unknown}; known: {list(FILTERS)}")
    active = [(name, FILTERS[name][0], FILTERS[name][1].model_validate(getattr(params, name))) for name in params.filters]
    texts = table["text"].to_pylist()
    langs = table["lang"].to_pylist() if "lang" in table.column_names else [None] * table.num_rows
    columns: dict[str, list[float | None]] = {name: [] for name in SIGNALS}
    reasons: list[str | None] = []
    for text, lang in zip(texts, langs):
        text = text or ""
        signals: dict[str, float] = {}
        reason = None
        if len(text) > params.max_chars:
            reason = "too_long"      # decided before segmenting tens of MB
        else:
            doc = Doc(text, lang)
            for name, fn, cfg in active:
                found, why = fn(doc, cfg)
                signals |= found
                if why and reason is None:
                    reason = f"{name}.{why}"
                    if not params.all_signals:
                        break
        for name in SIGNALS:
            columns[name].append(signals.get(name))
        reasons.append(reason)
        stats.observe("kept_by_lang" if reason is None else "dropped_by_lang", lang or "unknown")
    for name in SIGNALS:
        table = table.append_column(name, pa.array(columns[name], pa.float32()))
    return split_by_reason(table, reasons)


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
    input="langid", description="Heuristic quality filters with signals as columns and drop reasons.", tags=("data",), pipeline="data")
