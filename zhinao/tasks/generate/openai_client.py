"""The OpenAI-compatible backend: chat completions against a server (our local `vllm serve`, or any
endpoint a user names). Requests of a batch go out concurrently; the server batches them."""
from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor

from .api import Completion, Request

log = logging.getLogger("zhinao.generate")


class EndpointUnavailable(ConnectionError):
    """Every request of a batch failed to reach the server: the batch is retried, not dropped."""


class OpenAIGenerator:
    def __init__(self, base_url: str, model: str, concurrency: int = 32, timeout_s: float = 600.0,
                 api_key: str | None = None, attempts: int = 3, send_seeds: bool = True):
        import httpx

        self.name = f"openai:{model}@{base_url}"
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.attempts = attempts
        self.send_seeds = send_seeds
        self.client = httpx.Client(timeout=timeout_s, headers={"Authorization": f"Bearer {api_key}"} if api_key else {},
                                   limits=httpx.Limits(max_connections=concurrency))
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="zhinao-gen")

    def body(self, req: Request) -> dict:
        s = req.sampling
        messages = [{"role": r, "content": c} for r, c in req.messages]
        body = {"model": self.model, "messages": messages, "max_tokens": s.max_tokens,
                "temperature": s.temperature, "top_p": s.top_p}
        if s.seed is not None and self.send_seeds:
            body["seed"] = s.seed
        if s.stop:
            body["stop"] = list(s.stop)
        if req.prefill:  # vLLM's extension: continue the assistant message instead of opening one
            messages.append({"role": "assistant", "content": req.prefill})
            body |= {"continue_final_message": True, "add_generation_prompt": False}
        return body

    def _one(self, req: Request) -> tuple[Completion, bool]:
        """(completion, reached the server)."""
        import httpx

        err = ""
        for attempt in range(self.attempts):
            try:
                r = self.client.post(f"{self.base_url}/chat/completions", json=self.body(req))
            except httpx.TransportError as e:
                err = f"{type(e).__name__}: {e}"
                time.sleep(0.5 * 2 ** attempt)
                continue
            if r.status_code >= 500:
                err = f"HTTP {r.status_code}: {r.text[:200]}"
                time.sleep(0.5 * 2 ** attempt)
                continue
            if r.status_code != 200:    # a request the server rejects (e.g. prompt too long)
                return Completion(req.prefill, "error", error=f"HTTP {r.status_code}: {r.text[:300]}"), True
            data = r.json()
            choice = data["choices"][0]
            usage = data.get("usage") or {}
            text = choice["message"].get("content") or ""
            return Completion(req.prefill + text, choice.get("finish_reason") or "stop",
                              usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)), True
        return Completion(req.prefill, "error", error=err), False

    def generate(self, requests: list[Request]) -> list[Completion]:
        results = list(self.pool.map(self._one, requests))
        if results and not any(reached for _, reached in results):
            raise EndpointUnavailable(f"{self.base_url} did not answer any of {len(results)} requests: "
                                      f"{results[0][0].error}")
        return [c for c, _ in results]

    def close(self) -> None:
        self.pool.shutdown(wait=False)
        self.client.close()
