"""The preference dataset: one row per (prompt, chosen, rejected) pair, what the reward model trains on.

Columns (the post-training contract): `id` (a hash of the content and origin, so the same pair made
twice is one row), `prompt`, `chosen`, `rejected`, `category` (what the pair tests: math, ifeval,
judge, or a user file's own), `lang`, `origin` (which generator or file made it) and `verify`: what
checks an answer to the prompt, as JSON ({"answer": N} for math, {"instruction_id_list", "kwargs"}
for ifeval; "" when nothing can), so the prompts also serve RL with verifiable rewards.
"""
from __future__ import annotations

import hashlib
import json

import pyarrow as pa

SCHEMA = pa.schema([("id", pa.string()), ("prompt", pa.string()), ("chosen", pa.string()),
                    ("rejected", pa.string()), ("category", pa.string()), ("lang", pa.string()),
                    ("origin", pa.string()), ("verify", pa.string())])
AUDIT_SCHEMA = SCHEMA.append(pa.field("drop_reason", pa.string()))


def pair_id(prompt: str, chosen: str, rejected: str, origin: str) -> str:
    h = hashlib.sha256()
    for part in (origin, prompt, chosen, rejected):
        h.update(part.encode("utf-8") + b"\x00")
    return h.hexdigest()[:16]


def pair(prompt: str, chosen: str, rejected: str, category: str, lang: str, origin: str,
         verify: dict | None = None) -> dict:
    return {"id": pair_id(prompt, chosen, rejected, origin), "prompt": prompt, "chosen": chosen,
            "rejected": rejected, "category": category, "lang": lang, "origin": origin,
            "verify": json.dumps(verify, ensure_ascii=False, sort_keys=True) if verify else ""}
