"""merge: a model version made from other model versions (or HF folders) of one architecture by
interpolation, task arithmetic over deltas from a base, or extrapolation from a base through a
model (zhinao/tasks/align/merge.py); a safetensors HF folder whose parents are the models merged."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from zhinao.tasks.align.merge import coefficients, combine
from zhinao.tasks.declare import Plan, Stage
from zhinao.tasks.generate.models import model_sources, resolve_model
from zhinao.tasks.params import NOT_IN_KEY, StageParams


class MergeParams(StageParams):
    method: Literal["interpolate", "task_arithmetic", "extrapolate"] = Field("interpolate", description=(
        "interpolate: sum_i w_i model_i (weights sum to 1); task_arithmetic: base + sum_i w_i (model_i - base); "
        "extrapolate: model + alpha (model - base), one model."))
    # in the version id as what they name (versions as parents, folders by their files), in order
    models: list[str] = Field(default_factory=list, json_schema_extra=NOT_IN_KEY, description=(
        "The models merged: model versions (DATASET[@VERSION]) or local HF folders, in the order of `weights`."))
    weights: list[float] | None = Field(None, description="One per model (default: equal, 1/n).")
    base: str | None = Field(None, json_schema_extra=NOT_IN_KEY, description=(
        "The base of task_arithmetic and extrapolate (360Zhinao2: sft-base)."))
    alpha: float | None = Field(None, description="extrapolate's coefficient (360Zhinao2: 0.2).")

    @model_validator(mode="after")
    def _check(self) -> "MergeParams":
        if self.models:
            coefficients(self.method, len(self.models), self.weights, self.alpha)
        if self.method != "interpolate" and not self.base:
            raise ValueError(f"merge method {self.method} needs a base model")
        if self.method == "interpolate" and self.base:
            raise ValueError("interpolate has no base (task_arithmetic takes one)")
        return self


def plan(p: MergeParams, parents, store) -> Plan:
    if not p.models:
        raise ValueError("merge: no models given (-p models=a,b)")
    names = list(p.models) + ([p.base] if p.base else [])
    folders, model_parents, sources = [], [], []
    for i, name in enumerate(names):
        folder, ps = resolve_model(name, store)
        folders.append(folder)
        model_parents += [m for m in ps if m.ref not in {x.ref for x in model_parents}]
        role = "base" if p.base and i == len(names) - 1 else f"model{i}"
        sources += [s | {"name": f"{role}/{s['name']}"} for s in model_sources(folder)]
    coefs, base_coef = coefficients(p.method, len(p.models), p.weights, p.alpha)
    if p.base:
        coefs = coefs + [base_coef]
    split = {"folders": [str(f) for f in folders], "coefficients": coefs, "names": names}
    return Plan(splits=[split], parents=model_parents, sources=sources)


def run_merge(split: dict[str, Any], params: MergeParams, sink, stats) -> None:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="merge-") as tmp:
        out = Path(tmp) / "model"
        info = combine([Path(f) for f in split["folders"]], split["coefficients"], out)
        sink.write_files(out)
    for k, v in info.items():
        stats.count(k, v)
    stats.table("coefficients", [{"model": n, "coefficient": c} for n, c in zip(split["names"], split["coefficients"])])


MERGE = Stage(name="merge", tags=("post-training", "model"), params=MergeParams, plan=plan, process=run_merge, schema=None, kind="model",
              code=("zhinao.tasks.align.merge",),
              description="Merge model versions of one architecture: interpolation, task arithmetic over a base, "
                          "or extrapolation (model + alpha (model - base)); a safetensors HF folder.")
