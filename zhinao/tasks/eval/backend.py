"""Which backend computes the log-likelihood tasks (multiple choice, perplexity): the model in
process (transformers), or the prompt logprobs of the vLLM server the generation tasks use (a
`vllm serve` the stage starts, or an endpoint), which serves the same model."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..generate.service import GenSpec
from .scoring import LoglikScorer

LOGLIK_BACKENDS = ("auto", "transformers", "vllm")


def loglik_backend(choice: str, generation: str) -> str:
    """"transformers" or "vllm". `generation`: what the generation backend resolved to
    (zhinao.tasks.generate.service.choose_backend). auto: vllm where generation runs on a server ("vllm"
    or an "openai" endpoint), else transformers."""
    if choice not in LOGLIK_BACKENDS:
        raise ValueError(f"unknown loglik_backend {choice!r}; choose one of {LOGLIK_BACKENDS}")
    served = generation in ("vllm", "openai")
    if choice == "vllm" and not served:
        raise ValueError("loglik_backend=vllm scores on the generation server, but the generation backend "
                         f"resolved to {generation}: set backend=vllm or endpoint=<the server's URL>")
    if choice == "auto":
        return "vllm" if served else "transformers"
    return choice


def open_scorer(backend: str, model_path: str | Path, spec: GenSpec | None, p: Any) -> LoglikScorer:
    """The scorer for `backend`; `spec` (the opened generation service) for vllm."""
    if backend == "vllm":
        from .served_loglik import ServedLoglik

        return ServedLoglik(spec.url, spec.served_name, model_path, concurrency=spec.concurrency, api_key=spec.api_key)
    from .loglik import LoglikModel

    return LoglikModel(model_path, device=p.device)
