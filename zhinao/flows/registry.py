"""Every runnable target by name: the declared stages (zhinao/tasks/registry.py) and the pipelines
(what `zhinao run`, the deployments and the docs name)."""
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
    tags: tuple[str, ...] = ()
    description: str = ""
    entrypoint: str = ""        # file:attribute where Prefect finds the flow (prefect.yaml)
    schedule: str | None = None


def targets() -> dict[str, Target]:
    from .align_pipeline import AlignPipelineParams, align
    from .dpo_iterative import DPOIterativeParams, dpo_iterative
    from .long_context import LongContextParams, long_context
    from . import pipelines
    from .stages import attribute, flows

    out = {name: Target(name, made, made.stage.params, "stage", made.stage.tags, made.stage.description,
                        f"zhinao/flows/stages.py:{attribute(name)}") for name, made in flows().items()}
    for p in pipelines.PIPELINES:
        made = getattr(pipelines, attribute(p.name))
        out[p.name] = Target(p.name, made, made.params_model, "pipeline", p.tags, p.description,
                             f"zhinao/flows/pipelines.py:{attribute(p.name)}", p.schedule)
    # pipelines that are procedures (rounds, a choice among models), not lists of stages
    for name, made, params, tags in (("align", align, AlignPipelineParams, ("post-training", "alignment")),
                                     ("dpo-iterative", dpo_iterative, DPOIterativeParams, ("post-training", "alignment")),
                                     ("long-context", long_context, LongContextParams, ("post-training", "long-context"))):
        out[name] = Target(name, made, params, "pipeline", tags, made.description or "",
                           f"{made.fn.__module__.replace('.', '/')}.py:{made.fn.__name__}")
    return out
