"""What a version id knows of a model that only an endpoint serves: its name says nothing about its
weights (a server restarted on other weights keeps the name), so the model is identified by what
the server says of it (/v1/models, less its start time) and by its greedy answer to a fixed probe.
Other weights answer differently; a server whose greedy decoding is not repeatable makes a new
version each time (recomputation, never a false cache hit)."""
from __future__ import annotations

import json

import xxhash

from .api import Request
from .openai_client import EndpointUnavailable, OpenAIGenerator

PROBE = Request.chat("List the first twelve prime numbers, then name the capital of Australia.",
                     max_tokens=48, temperature=0.0, seed=0)


def served_model_source(endpoint: str, model: str, api_key: str | None = None) -> dict[str, str]:
    import httpx

    gen = OpenAIGenerator(endpoint, model, concurrency=1, timeout_s=120, api_key=api_key, attempts=2)
    try:
        listed = gen.client.get(f"{gen.base_url}/models").json().get("data", [])
    except (httpx.HTTPError, ValueError) as e:
        raise EndpointUnavailable(f"endpoint {endpoint} does not list its models ({e}): is it running?") from None
    entry = next((m for m in listed if m.get("id") == model), None)
    if entry is None:
        raise ValueError(f"endpoint {endpoint} does not serve {model!r}; it serves {[m.get('id') for m in listed]}")
    answer = gen.generate([PROBE])[0]
    if answer.finish_reason == "error":
        raise EndpointUnavailable(f"endpoint {endpoint} did not answer the model probe: {answer.error}")
    meta = {k: v for k, v in entry.items() if k not in ("created", "permission")}
    digest = xxhash.xxh3_128(json.dumps([meta, answer.text], sort_keys=True).encode()).hexdigest()[:16]
    return {"uri": f"{endpoint}#{model}", "name": f"served/{model}", "fingerprint": digest}
