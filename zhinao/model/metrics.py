"""The run's metrics: one JSON line per logged step (loss, grad norm, LR, tokens/s, MFU ...)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class MetricsLog:
    """Append-only JSONL. On resume, lines past the checkpoint's step are dropped: the resumed run
    logs those steps again (the kept lines go to a new file renamed over the old one, so a kill
    during the rewrite loses nothing)."""

    def __init__(self, path: str | Path, resume_step: int | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        rows = read_metrics(self.path) if resume_step is not None else []
        kept = [r for r in rows if r.get("step", 0) <= (resume_step or 0)]
        fresh = self.path.with_name(self.path.name + ".part")
        with fresh.open("w") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in kept)
        os.replace(fresh, self.path)

    def write(self, row: dict[str, Any]) -> None:
        with self.path.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    p = Path(path)
    return parse_rows(p.read_text()) if p.exists() else []


def parse_rows(text: str) -> list[dict[str, Any]]:
    rows = []
    for line in text.splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:     # a line cut by a kill
            continue
    return rows

