"""extract: HTML -> main text (trafilatura / resiliparse, chosen per page), title and metadata kept."""
from typing import Literal

from pydantic import Field

from zhinao.tasks.extract.stage import ADDED, extract_batch

from .docstage import document_stage
from .params import StageParams
from .stage import make_flow


class ExtractParams(StageParams):
    extractor: Literal["auto", "trafilatura", "resiliparse"] = Field(
        "auto", description="'auto' chooses per page between trafilatura (precision, then recall mode) and "
                            "resiliparse; or name one extractor.")
    min_chars: int = Field(1, ge=1, description="Pages whose main text is shorter are dropped as 'no_main_text'.")


EXTRACT = document_stage(
    "extract", ExtractParams, extract_batch, ADDED, code=("zhinao.tasks.extract", "zhinao.tasks.runtime.mapper"),
    input="ingest", description="HTML to main text; pages with no main text are dropped with a reason.")

extract = make_flow(EXTRACT)
