"""Ranks on other machines read the run's files at the driver's paths. Say so, naming the path,
instead of failing deep inside DeepSpeed or the data loader."""
from __future__ import annotations

import os
import socket

WHAT_TO_SHARE = ("runs on several machines read the driver's files at the driver's paths: put ZHINAO_HOME "
                 "(its model-cache/ with the token shards, tokenizer and init model, and checkpoints/) on shared "
                 "storage mounted at the same path on every node; with a local-folder ZHINAO_STORE, the store too "
                 "(its .resume/ holds the checkpoints then)")


def require_visible(paths: dict[str, str | None]) -> None:
    """Raise FileNotFoundError naming every path of `paths` (what -> path) this process cannot see."""
    missing = {what: p for what, p in paths.items() if p and not os.path.exists(p)}
    if missing:
        listed = ", ".join(f"{what} {p}" for what, p in missing.items())
        raise FileNotFoundError(f"rank {os.environ.get('RANK', '0')} on {socket.gethostname()} cannot see {listed}: "
                                f"{WHAT_TO_SHARE}")
