"""Base parameter model every stage's parameters extend."""
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Parameters that change how a stage runs but not what it produces stay out of the version id.
NOT_IN_KEY = {"cache_key": False}


class StageParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    audit: bool = Field(False, description="Also write dropped documents, each with its drop_reason, "
                                           "to an audit side version `<stage>.dropped`.")
    use_ray: bool = Field(True, description="Run splits as Ray tasks (False: in-process, for debugging).",
                          json_schema_extra=NOT_IN_KEY)
    num_cpus: int | None = Field(None, description="CPUs for a local Ray (default: all).",
                                 json_schema_extra=NOT_IN_KEY)

    def key_params(self) -> dict[str, Any]:
        """The parameters that define the output, canonicalised for the version id."""
        skip = {name for name, f in type(self).model_fields.items()
                if isinstance(f.json_schema_extra, dict) and f.json_schema_extra.get("cache_key") is False}
        return self.model_dump(mode="json", exclude=skip)

    @classmethod
    def from_cli(cls, pairs: list[str]) -> "StageParams":
        """k=v pairs; values are read as JSON when they parse (numbers, lists, booleans) else text."""
        import json

        raw: dict[str, Any] = {}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep:
                raise ValueError(f"--param {pair!r}: expected KEY=VALUE")
            if key not in cls.model_fields:
                raise ValueError(f"unknown parameter {key!r} for {cls.__name__}; known: "
                                 + ", ".join(sorted(cls.model_fields)))
            try:
                raw[key] = json.loads(value)
            except json.JSONDecodeError:
                raw[key] = value
            if cls.model_fields[key].annotation in (list[str],) and isinstance(raw[key], str):
                raw[key] = [v for v in raw[key].split(",") if v]
        return cls(**raw)
