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


def file_fingerprint(uri: str, probe: int = 1 << 20) -> str:
    """Content fingerprint of a raw input file: its size plus its first and last MiB.

    Stable across copies (no path, no mtime), O(1) in file size (TB-scale crawls), and it works on
    any fsspec filesystem (local paths, s3://, ...).
    """
    import fsspec

    with fsspec.open(uri, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        h = hashlib.sha256(str(size).encode())
        fh.seek(0)
        h.update(fh.read(probe))
        if size > probe:
            fh.seek(max(probe, size - probe))
            h.update(fh.read(probe))
    return h.hexdigest()[:VERSION_ID_LEN]
