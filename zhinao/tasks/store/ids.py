"""Content-derived version ids: stage + canonical params + code fingerprint + input ids."""
from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable

VERSION_ID_LEN = 16


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace, so equal params hash equally."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def version_id(stage: str, params: dict, code: str, inputs: Iterable[str], extra: Any = None) -> str:
    payload = canonical_json(
        {"stage": stage, "params": params, "code": code, "inputs": list(inputs), "extra": extra}
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:VERSION_ID_LEN]
