"""JSON-lines files read strictly: one object per non-blank line, a bad line an error naming file and line."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator


def json_objects(path: str | Path, text: str | None = None,
                 error: type[Exception] = ValueError) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, object) per non-blank line; `where` is 'file:line' for error messages."""
    body = Path(path).read_text(encoding="utf-8") if text is None else text
    for number, line in enumerate(body.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise error(f"{where}: not a JSON line ({e.msg} at column {e.colno})") from None
        if not isinstance(obj, dict):
            raise error(f"{where}: expected a JSON object, got {type(obj).__name__}")
        yield where, obj
