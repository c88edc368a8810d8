"""Whole pipelines: stage flows chained as subflows, each stage's output the next one's input."""
from prefect import flow
from pydantic import BaseModel, ConfigDict, Field

from .ingest import IngestParams, ingest
from .stage import StageResult


class DataParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ingest: IngestParams = Field(default_factory=IngestParams)


@flow(name="data", description="The data pipeline: crawl files to documents (more stages land here as "
                                "they are built).", persist_result=False)
def data(params: DataParams = DataParams()) -> list[StageResult]:
    results = [ingest(params.ingest)]
    return results
