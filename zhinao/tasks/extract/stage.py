"""extract: HTML -> main text (trafilatura / resiliparse, chosen per page), title and which extractor won;
the per-document batch function and the stage declaration."""
from __future__ import annotations

import logging
import pyarrow as pa
from typing import Any, Literal

from pydantic import Field

from ..params import StageParams
from ..runtime.docstage import document_stage
from ..runtime.mapper import split_by_reason
from ..stats import StageStats
from .extractors import EXTRACTORS


log = logging.getLogger("zhinao.extract")

ADDED = (pa.field("text", pa.string()), pa.field("title", pa.string()), pa.field("extractor", pa.string()))


def extract_batch(table: pa.Table, params: Any, stats: StageStats) -> tuple[pa.Table, pa.Table]:
    fn = EXTRACTORS[params.extractor]
    htmls = table["html"].to_pylist() if "html" in table.column_names else [None] * table.num_rows
    texts = table["text"].to_pylist()
    urls = table["url"].to_pylist()
    out_text, titles, used, reasons = [], [], [], []
    for html, text, url in zip(htmls, texts, urls):
        title, how = None, "none"          # documents that arrived as text (WET, JSONL) pass through
        if html:
            how = params.extractor
            try:
                text, title = fn(html, url)
            except Exception as e:  # a pathological page must not sink its batch
                log.debug("extractor %s failed on %s: %s", params.extractor, url, e)
                text, how = None, "error"
        text = (text or "").strip()
        if how == "error":
            reason = "extract_error"
        else:
            reason = None if len(text) >= params.min_chars else "no_main_text"
        out_text.append(text)
        titles.append(title)
        used.append(how)
        reasons.append(reason)
        stats.observe("extractor", how)
    table = table.set_column(table.column_names.index("text"), "text", pa.array(out_text, pa.string()))
    table = table.append_column("title", pa.array(titles, pa.string()))
    table = table.append_column("extractor", pa.array(used, pa.string()))
    return split_by_reason(table, reasons)


class ExtractParams(StageParams):
    extractor: Literal["auto", "trafilatura", "resiliparse"] = Field(
        "auto", description="'auto' chooses per page between trafilatura (precision, then recall mode) and "
                            "resiliparse; or name one extractor.")
    min_chars: int = Field(1, ge=1, description="Pages whose main text is shorter are dropped as 'no_main_text'.")


EXTRACT = document_stage(
    "extract", ExtractParams, extract_batch, ADDED, code=("zhinao.tasks.extract", "zhinao.tasks.runtime.mapper"),
    input="ingest", description="HTML to main text; pages with no main text are dropped with a reason.", tags=("data",), pipeline="data")
