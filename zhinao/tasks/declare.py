"""A stage, declared once: its parameters, inputs, plan, work and how it runs. The declaration is all
the rest of the project reads: the stage runner (zhinao/flows/stage.py) makes a cached, retryable
Prefect flow of it; the registry (zhinao/tasks/registry.py) finds it; the CLI, the deployments, the
pipelines and the stage reference (docs/stages.md) follow from it."""
from dataclasses import dataclass, field
from typing import Any, Callable

import pyarrow as pa

from zhinao.tasks.runtime.ray_exec import Actors, Process, SplitResult, run_splits
from zhinao.tasks.store import Manifest, Store, parse_ref
from zhinao.tasks.store.closure import module_of

from .params import StageParams, named_versions


@dataclass
class Plan:
    """What a stage will do: its splits (one Ray task each) and the raw sources it reads, whose
    fingerprints are part of the version id."""
    splits: list[Any]
    sources: list[dict[str, Any]] = field(default_factory=list)
    schema: pa.Schema | None = None       # output schema when it depends on the input's
    info: dict[str, Any] = field(default_factory=dict)   # what a multi-phase driver needs to know
    parents: list[Manifest] = field(default_factory=list)  # versions named by params (a model version)

    @property
    def key(self) -> list[dict[str, Any]]:
        """Sources as they enter the version id: by name and content, not by location."""
        return [{k: v for k, v in s.items() if k != "uri"} for s in self.sources]


@dataclass
class Stage:
    name: str
    params: type[StageParams]
    plan: Callable[[StageParams, list[Manifest], Store], Plan]
    process: Process
    schema: pa.Schema | None              # fixed output schema, or None when the plan gives it
    code: tuple[str, ...]                 # modules/packages whose source defines the output
    # upstream datasets (by default their latest version), or a function of the params naming them
    inputs: tuple[str, ...] | Callable[[Any], tuple[str, ...]] = ()
    # Multi-phase stages (global dedup) drive their own Ray work; the default runs one task per split.
    run: Callable[["RunContext"], list[SplitResult]] | None = None
    actors: Actors | None = None          # model-backed stages: splits go to long-lived actors
    description: str = ""
    # where it belongs (its first tag: data, model or post-training) and what it is, for the
    # deployments and the stage reference
    tags: tuple[str, ...] = ()
    kind: str = "dataset"                 # "model" / "tokens": the splits write files, not Parquet
    # In a pipeline (zhinao/flows/pipeline.py): the pipeline it joins (besides those listing it), ...
    pipeline: str | None = None
    # ... whether a version with no rows is an outcome, not a dead end (generation that kept nothing),
    empty_ok: bool = False
    # ... its params fitted to what the run made ({stage: ref}; a mixture keeps the sources made),
    fit_to_run: Callable[[Any, dict[str, str]], Any] | None = None
    # ... and why to skip it, given its inputs' refs and the store (an empty mixture), or None.
    skip_when: Callable[[list[str], Store], str | None] | None = None
    retries: int = 2
    retry_delay_s: float = 5.0
    timeout_s: float | None = None

    def reads(self, params: Any) -> tuple[str, ...]:
        """The upstream datasets it reads with these params."""
        return tuple(self.inputs(params) if callable(self.inputs) else self.inputs)

    def uses(self, params: Any) -> tuple[str, ...]:
        """The other versions its params name (a model to train or score with), by dataset."""
        reads = {parse_ref(r)[0] for r in self.reads(params)}
        return tuple(dict.fromkeys(d for d in named_versions(params).values() if d not in reads))


@dataclass
class RunContext:
    """What a multi-phase stage's driver gets: run_splits() for each phase, a scratch folder for
    intermediate (shuffle) files inside the staging area, and the final output folders."""
    stage: Stage
    params: Any
    plan: Plan
    store: Store
    output: str                    # staging folder of the version (store-relative)
    audit: str | None              # staging folder of the audit version, when auditing
    use_ray: bool
    version: str = ""

    @property
    def resume(self) -> str:
        """Work kept across attempts of this version (finished generation batches); removed on commit."""
        return resume_folder(self.stage.name, self.version)

    @property
    def scratch(self) -> str:
        return f"{self.output}/_scratch"

    def map(self, process: Process, splits: list[Any], desc: str, output: str | None = None,
            audit: str | None = None, actors: Actors | None = None) -> list[SplitResult]:
        return run_splits(process, splits, self.params, self.store.root, output or self.scratch, audit,
                          desc=f"{self.stage.name}: {desc}", use_ray=self.use_ray, actors=actors)

    def final(self, process: Process, splits: list[Any], desc: str = "write",
              actors: Actors | None = None) -> list[SplitResult]:
        return self.map(process, splits, desc, output=self.output, audit=self.audit, actors=actors)


def stage_modules(stage: Stage) -> tuple[str, ...]:
    """Where the stage's code starts: the modules of its plan, process, driver and input function,
    plus what it names; the fingerprint follows their imports through the repository."""
    parts = (stage.params, stage.plan, stage.process, stage.run, stage.inputs if callable(stage.inputs) else None)
    found = [module_of(f) for part in parts if part is not None for f in _code_of(part)]
    return tuple(dict.fromkeys([m for m in found if m] + list(stage.code)))


def _code_of(obj: Any) -> list[Any]:
    """A function or class is code; an object (ShardMap(fn)) is its class and the functions it holds."""
    if isinstance(obj, type) or hasattr(obj, "__code__"):
        return [obj]
    return [type(obj), *(v for v in getattr(obj, "__dict__", {}).values() if callable(v))]


def resume_folder(stage: str, version: str) -> str:
    return f".resume/{stage}/{version}"
