"""A pipeline declared as data: its stages are those that name it (`Stage(pipeline=...)`), run in the
order their inputs give; each reads what this run made (else the latest version), so the edges are
the declared inputs, and a parameter that names a version another stage of the run made (sft's
`data`, rm-filter's `reward_model`) is pinned to that version. The pipeline's parameters are made
from its stages' (one field per stage), with the pipeline's own defaults, its optional stages and
its switches."""
from dataclasses import dataclass, field
from typing import Any

from prefect import flow
from pydantic import BaseModel, ConfigDict, Field, create_model

from zhinao.tasks.params import named_versions
from zhinao.tasks.registry import stages
from zhinao.tasks.stats import dropped_text
from zhinao.tasks.store import parse_ref
from zhinao.tasks.home import open_store

from .hooks import run_logger
from .stage import StageResult
from .stages import attribute, flows


@dataclass(frozen=True)
class Pipeline:
    name: str
    description: str
    tags: tuple[str, ...] = ()
    # its stages in order, when they are not those that name it (`Stage(pipeline=...)`)
    stages: tuple[str, ...] = ()
    # stage -> parameters of this pipeline that differ from the stage's own defaults
    defaults: dict[str, dict[str, Any]] = field(default_factory=dict)
    # stages that run only when their parameters are given: stage -> what the field says
    optional: dict[str, str] = field(default_factory=dict)
    # stages that run unless their parameters are null: stage -> (what the field says, the stages
    # left out with it)
    leave_out: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    # a left-out stage -> the stage whose version its readers get instead (a filter left out: its input)
    stands_in: dict[str, str] = field(default_factory=dict)
    # boolean fields (on by default) that turn groups of stages off: name -> (stages, description)
    switches: dict[str, tuple[tuple[str, ...], str]] = field(default_factory=dict)
    # once the last of these has run, the drop funnel of those that ran is published (an artifact)
    funnel: tuple[str, ...] = ()
    schedule: str | None = None        # cron (UTC) of its deployment, off until turned on


class EmptyOutput(ValueError):
    """A stage of a pipeline kept no rows: the stages after it would only make empty versions."""


def members(p: Pipeline) -> list[str]:
    """The pipeline's stages, upstream first (as listed, else the registry's order)."""
    return list(p.stages) or [name for name, s in stages().items() if s.pipeline == p.name]


def check_order(p: Pipeline) -> None:
    """Every stage comes after the stages of the pipeline it reads or whose versions it names."""
    names = members(p)
    for i, name in enumerate(names):
        stage = stages()[name]
        later = [d for d in (*stage.reads(stage.params()), *stage.uses(stage.params())) if d in names[i + 1:]]
        if later:
            raise ValueError(f"pipeline {p.name!r}: {name} comes before {later}, which it reads or names")


def pinned(params: BaseModel, made: dict[str, StageResult]) -> BaseModel:
    """Parameters naming a dataset this run made (`data: rm-filter`) name the version it made."""
    pins = {f: made[d].ref for f, d in named_versions(params).items() if getattr(params, f) == d and d in made}
    return params.model_copy(update=pins) if pins else params


def params_model(p: Pipeline) -> type[BaseModel]:
    """One field per stage (`dedup-exact` -> `dedup_exact`) holding its parameters, in pipeline order;
    a switch comes before the first stage it turns off."""
    fields: dict[str, Any] = {}
    switched = {s: name for name, (group, _) in p.switches.items() for s in group}
    for name in members(p):
        if name in switched and switched[name] not in fields:
            fields[switched[name]] = (bool, Field(True, description=p.switches[switched[name]][1]))
        model = stages()[name].params
        if name in p.optional:
            fields[attribute(name)] = (model | None, Field(None, description=p.optional[name]))
        elif name in p.leave_out:
            fields[attribute(name)] = (model | None, Field(default_factory=_made(model, p.defaults.get(name, {})),
                                                           description=p.leave_out[name][0]))
        elif name in p.defaults:
            fields[attribute(name)] = (model, Field(default_factory=_made(model, p.defaults[name])))
        else:
            fields[attribute(name)] = (model, Field(default_factory=model))
    title = "".join(part.capitalize() for part in p.name.replace("-", " ").split()) + "Params"
    return create_model(title, __config__=ConfigDict(extra="forbid"), __module__=__name__, **fields)


def _made(model: type[BaseModel], values: dict[str, Any]):
    return lambda: model(**values)


def nonempty(result: StageResult, following: str) -> str:
    """The ref of a stage's output, when it holds rows for the stage that follows."""
    if result.kind == "dataset" and result.rows == 0:
        dropped = dropped_text(result.stats.get("dropped", {}))
        raise EmptyOutput(f"{result.ref} holds 0 rows (dropped: {dropped}): the pipeline stops before {following}, "
                          "which would have nothing to work on")
    return result.ref


def run_pipeline(p: Pipeline, params: BaseModel) -> list[StageResult]:
    log = run_logger("zhinao.pipeline")
    made: dict[str, StageResult] = {}      # by stage: its version, or the one standing in for it
    results: list[StageResult] = []
    skipped: set[str] = set()
    off = {s for name, (group, _) in p.switches.items() if not getattr(params, name) for s in group}
    off |= {s for name, (_, group) in p.leave_out.items() if getattr(params, attribute(name)) is None for s in group}
    for name in members(p):
        stage, stage_params = stages()[name], getattr(params, attribute(name))
        if name in off or stage_params is None:
            if p.stands_in.get(name) in made:
                made[name] = made[p.stands_in[name]]
            else:
                skipped.add(name)
            continue
        stage_params = pinned(stage_params, made)
        if stage.fit_to_run is not None:
            stage_params = stage.fit_to_run(stage_params, {n: r.ref for n, r in made.items()})
        reads = stage.reads(stage_params)
        if any(r in skipped for r in reads):
            log.warning("skipping %s: it reads %s, which this run skipped", name, [r for r in reads if r in skipped])
            skipped.add(name)
            continue
        inputs = {}
        for r in reads:            # what this run made: handed as an input, or named by a pinned parameter
            base = parse_ref(r)[0]
            if base in made and r in (base, made[base].ref):
                ref = made[base].ref if stages()[base].empty_ok else nonempty(made[base], name)
                if r == base:
                    inputs[r] = ref
        if stage.skip_when is not None:
            why = stage.skip_when([inputs.get(r, r) for r in reads], open_store())
            if why:
                log.warning("%s; skipping %s", why, name)
                skipped.add(name)
                continue
        result = flows()[name](stage_params, inputs=inputs or None)
        made[name] = result
        results.append(result)
        if p.funnel and name == p.funnel[-1]:
            from .report import publish_funnel

            publish_funnel([made[n] for n in p.funnel if n in made])
    return results


def pipeline_flow(p: Pipeline):
    """The Prefect flow of a pipeline; its parameters model becomes the deployment's schema."""
    check_order(p)
    model = params_model(p)

    def run(params: model = model()) -> list[StageResult]:  # type: ignore[valid-type]
        return run_pipeline(p, params)

    run.__doc__ = p.description
    made = flow(name=p.name, description=p.description, persist_result=False)(run)
    made.pipeline, made.params_model = p, model
    return made

