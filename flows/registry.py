"""Every runnable target by name: stages and pipelines (what `zhinao run` and prefect.yaml name)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True)
class Target:
    name: str
    flow: Any
    params: type[BaseModel]
    kind: str   # "stage" | "pipeline"


def targets() -> dict[str, Target]:
    from .ingest import IngestParams, ingest
    from .pipelines import DataParams, data

    return {
        "ingest": Target("ingest", ingest, IngestParams, "stage"),
        "data": Target("data", data, DataParams, "pipeline"),
    }
