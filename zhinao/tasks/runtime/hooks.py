"""How task code reaches the orchestrator without importing it: the run's logger and progress
reports, as hooks with plain defaults (standard logging, no progress reported). The flow layer
installs its own (zhinao/flows/hooks.py: Prefect's run logger and progress artifacts) with
`install`; tasks/ call the functions below and never import Prefect.

Hooks are per process: a Ray worker or a training rank that never installed them reports nothing
and logs through standard logging, as it would with Prefect's context absent."""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any, Callable

Logger = logging.Logger | logging.LoggerAdapter


def _plain_logger(fallback: str) -> Logger:
    return logging.getLogger(fallback)


def _no_progress(key: str, description: str) -> Any:
    return None


def _no_update(handle: Any, percent: float) -> None:
    pass


@dataclass(frozen=True)
class Hooks:
    # the current run's logger, or logging.getLogger(fallback) outside a run
    logger: Callable[[str], Logger] = _plain_logger
    # start a progress report (at 0%) under `key`: a handle for progress_update, or None when
    # nothing is reported (outside a run)
    progress_start: Callable[[str, str], Any] = _no_progress
    # report `percent` (0..100) on a handle progress_start gave
    progress_update: Callable[[Any, float], None] = _no_update


DEFAULTS = Hooks()
_hooks = DEFAULTS


def install(**hooks: Callable) -> Hooks:
    """Replace the named hooks (logger, progress_start, progress_update) for this process; returns
    the hooks that were installed before, for `restore`."""
    global _hooks
    before = _hooks
    _hooks = replace(_hooks, **hooks)
    return before


def restore(hooks: Hooks = DEFAULTS) -> None:
    global _hooks
    _hooks = hooks


def logger(fallback: str = "zhinao") -> Logger:
    """The run's logger; outside a run, the standard logger named `fallback`."""
    return _hooks.logger(fallback)


def progress_start(key: str, description: str) -> Any:
    """Start a progress report at 0% under `key` (an artifact key: lowercase letters, digits and
    dashes); a handle for progress_update, None where nothing is reported."""
    return _hooks.progress_start(key, description)


def progress_update(handle: Any, percent: float) -> None:
    """Report `percent` (at most 100) on a progress_start handle; nothing for a None handle."""
    if handle is not None:
        _hooks.progress_update(handle, min(100.0, percent))
