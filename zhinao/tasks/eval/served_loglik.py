"""Log-likelihoods from a vLLM server's prompt logprobs: the same requests as in process
(scoring.py tokenizes them with the model's tokenizer), each sent as token ids to the
OpenAI-compatible /v1/completions with `max_tokens` 1 and vLLM's `prompt_logprobs` 1, which
returns, for every prompt position after the first, the prompt token's log-probability and rank
(rank 1: the argmax, greedy decoding would produce it). A continuation's score is the sum over its
tokens; identical prompts are sent once, all of them concurrently (the server batches them)."""
from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from tqdm import tqdm

from ..generate.openai_client import EndpointUnavailable
from .scoring import LoglikScorer, Scored, load_tokenizer

log = logging.getLogger("zhinao.eval")


class ServedLoglik(LoglikScorer):
    def __init__(self, base_url: str, model: str, model_path: str | Path, concurrency: int = 32,
                 api_key: str | None = None, timeout_s: float = 600.0, attempts: int = 3):
        import httpx
        from transformers import AutoConfig

        self.base_url, self.model, self.attempts = base_url.rstrip("/"), model, attempts
        self.concurrency = concurrency
        self.tok = load_tokenizer(model_path)
        self.client = httpx.Client(timeout=timeout_s, headers={"Authorization": f"Bearer {api_key}"} if api_key else {},
                                   limits=httpx.Limits(max_connections=concurrency))
        positions = int(getattr(AutoConfig.from_pretrained(str(model_path)), "max_position_embeddings", 2048) or 2048)
        served = self._max_model_len()
        # the prompt is the input plus the continuation's last token, and one token is generated
        self.max_length = min(positions, served - 2) if served else positions
        log.info("log-likelihoods from the prompt logprobs of %s at %s (inputs up to %d tokens)", model,
                 self.base_url, self.max_length)

    def _max_model_len(self) -> int | None:
        import httpx

        try:
            listed = self.client.get(f"{self.base_url}/models").json().get("data", [])
        except (httpx.HTTPError, ValueError) as e:
            raise EndpointUnavailable(f"{self.base_url} does not list its models ({e}): is it running?") from None
        entry = next((m for m in listed if m.get("id") == self.model), None)
        if entry is None:
            raise ValueError(f"{self.base_url} does not serve {self.model!r}; it serves {[m.get('id') for m in listed]}")
        return entry.get("max_model_len")

    def _post(self, body: dict) -> dict:
        import httpx

        err = ""
        for attempt in range(self.attempts):
            try:
                r = self.client.post(f"{self.base_url}/completions", json=body)
            except httpx.TransportError as e:
                err = f"{type(e).__name__}: {e}"
            else:
                if r.status_code == 200:
                    return r.json()
                if r.status_code < 500:         # refused (a prompt too long, an unknown parameter)
                    raise ValueError(f"{self.base_url} refused a prompt-logprobs request of {len(body['prompt'])} "
                                     f"tokens: HTTP {r.status_code}: {r.text[:300]}")
                err = f"HTTP {r.status_code}: {r.text[:200]}"
            time.sleep(0.5 * 2 ** attempt)
        raise EndpointUnavailable(f"{self.base_url} did not answer a prompt-logprobs request: {err}")

    def prompt_scores(self, ids: tuple[int, ...]) -> list[tuple[float, bool]]:
        """(log-probability, is the argmax) of each prompt token after the first."""
        data = self._post({"model": self.model, "prompt": list(ids), "max_tokens": 1, "temperature": 0.0,
                           "prompt_logprobs": 1})
        entries = (data.get("choices") or [{}])[0].get("prompt_logprobs")
        if not entries or len(entries) != len(ids):
            raise ValueError(f"{self.base_url} returned no prompt_logprobs for a {len(ids)}-token prompt (vLLM's "
                             "extension of /v1/completions): use loglik_backend=transformers with this server")
        out = []
        for pos in range(1, len(ids)):
            entry = entries[pos] or {}
            mine = entry.get(str(ids[pos]))
            if mine is None:
                raise ValueError(f"{self.base_url}: prompt_logprobs at position {pos} lack the prompt's token {ids[pos]}")
            rank = mine.get("rank")
            greedy = rank == 1 if rank is not None else mine["logprob"] >= max(v["logprob"] for v in entry.values())
            out.append((float(mine["logprob"]), greedy))
        return out

    def _scored(self, rows: list[tuple[tuple, tuple]], desc: str) -> list[list[tuple[float, bool]]]:
        """Per (input, continuation): the continuation tokens' (log-prob, greedy)."""
        prompts = [inp + cont[-1:] for inp, cont in rows]
        unique = list(dict.fromkeys(prompts))
        got: dict[tuple, list] = {}
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="zhinao-loglik") as pool, \
                tqdm(total=len(unique), desc=desc, unit="prompt", disable=None, leave=False) as bar:
            futures = {pool.submit(self.prompt_scores, p): p for p in unique}
            for f in as_completed(futures):
                got[futures[f]] = f.result()
                bar.update(1)
        return [got[p][len(p) - 1 - len(cont):] for p, (_, cont) in zip(prompts, rows)]

    def score_tokens(self, encoded: list[tuple[list[int], list[int]]], batch_size: int = 8,
                     desc: str = "loglikelihood") -> list[Scored]:
        scored = self._scored(self.truncated(encoded), desc)
        return [Scored(sum(lp for lp, _ in s), all(g for _, g in s), len(s)) for s in scored]

    def per_token(self, encoded: list[tuple[list[int], list[int]]], batch_size: int = 8,
                  desc: str = "loglikelihood") -> list[list[float]]:
        return [[lp for lp, _ in s] for s in self._scored(self.truncated(encoded), desc)]

    def close(self) -> None:
        self.client.close()
