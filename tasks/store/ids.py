"""Content-derived version ids: stage + canonical params + code fingerprint + input ids."""
from __future__ import annotations

import hashlib
import importlib
import json
import os
from pathlib import Path
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


def _module_files(name: str) -> list[Path]:
    mod = importlib.import_module(name)
    path = Path(mod.__file__)
    if path.name == "__init__.py":  # a package: every .py file below it
        return sorted(p for p in path.parent.rglob("*.py") if "__pycache__" not in p.parts)
    return [path]


def code_fingerprint(modules: Iterable[str], salt: str = "") -> str:
    """Hash of the source of the named modules/packages (edits anywhere in them change it)."""
    h = hashlib.sha256(salt.encode())
    for name in sorted(set(modules)):
        for f in _module_files(name):
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:VERSION_ID_LEN]


_PROBE = 1 << 20


def file_fingerprint(path: str | os.PathLike) -> str:
    """Cheap content fingerprint of a raw input file: its size plus its first and last MiB.

    Stable across copies (no mtime) and O(1) in file size, which matters for TB-scale crawls.
    """
    p = Path(path)
    size = p.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with p.open("rb") as fh:
        h.update(fh.read(_PROBE))
        if size > 2 * _PROBE:
            fh.seek(size - _PROBE)
            h.update(fh.read(_PROBE))
        else:
            h.update(fh.read())
    return h.hexdigest()[:VERSION_ID_LEN]
