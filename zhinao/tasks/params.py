"""The parameter model every stage's parameters extend, and the mark that keeps a parameter out of
the version id."""
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from zhinao.tasks.store.store import parse_ref

# Parameters that change how a stage runs but not what it produces stay out of the version id.
NOT_IN_KEY = {"cache_key": False}


# A parameter that names a version by its dataset (a model, a chat dataset: DATASET[@VERSION], or a
# folder): the stage graph draws it as an edge, and a pipeline pins it to the version its run made.
NAMES_VERSION = {"names_version": True}


def in_key(field) -> bool:
    """Whether a parameter shapes the output (enters the version id)."""
    extra = field.json_schema_extra
    return not (isinstance(extra, dict) and extra.get("cache_key") is False)


class StageParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # the audit is a side version: asking for it later computes it without a new main version
    audit: bool = Field(False, description="Also write dropped documents, each with its drop_reason, "
                                           "to an audit side version `<stage>.dropped`.", json_schema_extra=NOT_IN_KEY)
    use_ray: bool = Field(True, description="Run splits as Ray tasks (False: in-process, for debugging).",
                          json_schema_extra=NOT_IN_KEY)
    num_cpus: int | None = Field(None, gt=0, description="CPUs for a local Ray (default: all).",
                                 json_schema_extra=NOT_IN_KEY)

    def key_params(self) -> dict[str, Any]:
        """The parameters that define the output, canonicalised for the version id."""
        skip = {name for name, f in type(self).model_fields.items() if not in_key(f)}
        return self.model_dump(mode="json", exclude=skip)


# A training stage hands its ranks a run spec (a dataclass: TrainSpec, AlignSpec, RewardSpec). Each
# params field fills the spec field of its name, or the one it names, or none: the plan or the work
# reads it (PLAN_READS). One way for every stage, and nothing is dropped silently.
SPEC = "spec"
PLAN_READS = {SPEC: None}


def fills(name: str) -> dict[str, str]:
    """A params field that fills the run-spec field `name` (sft's `lr` is the spec's `max_lr`)."""
    return {SPEC: name}


def spec_values(params: BaseModel, spec: type) -> dict[str, Any]:
    """The run spec's values from the params, as the fields declare; raises on a field that shapes
    the output but fills no spec field and does not say the plan reads it."""
    names = set(spec.__dataclass_fields__)
    values, lost = {}, []
    dumped = params.model_dump()
    for name, f in type(params).model_fields.items():
        extra = f.json_schema_extra if isinstance(f.json_schema_extra, dict) else {}
        target = extra.get(SPEC, name)
        if target in names:
            values[target] = dumped[name]
        elif target is not None and in_key(f) and name not in StageParams.model_fields:
            lost.append(name)
    if lost:
        raise ValueError(f"{type(params).__name__}: {lost} shape the output, but {spec.__name__} has no such field "
                         "and the field does not say the plan reads it (json_schema_extra=PLAN_READS)")
    return values


def named_versions(params: BaseModel) -> dict[str, str]:
    """The fields that name a version (NAMES_VERSION), with the dataset each names now; fields holding
    a folder path are left out (a name that is no stage, such as an offline model, makes no edge)."""
    out = {}
    for name, f in type(params).model_fields.items():
        extra = f.json_schema_extra if isinstance(f.json_schema_extra, dict) else {}
        value = getattr(params, name)
        if extra.get("names_version") and isinstance(value, str) and value and "/" not in value:
            out[name] = parse_ref(value)[0]
    return out
