"""The parameter model every stage's parameters extend, and the mark that keeps a parameter out of
the version id."""
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Parameters that change how a stage runs but not what it produces stay out of the version id.
NOT_IN_KEY = {"cache_key": False}


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
