"""The Prefect side of zhinao/tasks/runtime/hooks.py: task code's logger is the run's logger and
its progress reports are progress artifacts, while a flow or task run is going on in this process;
outside one (a Ray worker, a script) they fall back as the defaults do."""
from __future__ import annotations

import logging
from typing import Any

from prefect import get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.context import FlowRunContext
from prefect.exceptions import MissingContextError

from zhinao.tasks.runtime import hooks


def run_logger(fallback: str) -> logging.Logger | logging.LoggerAdapter:
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(fallback)


def start_progress(key: str, description: str) -> Any:
    """A progress artifact at 0% in the current flow run; None outside one."""
    if FlowRunContext.get() is None:
        return None
    return create_progress_artifact(0.0, key=key, description=description)


def update_progress(artifact: Any, percent: float) -> None:
    update_progress_artifact(artifact, percent)


def install_prefect_hooks() -> None:
    """Route task code's logging and progress to Prefect in this process (idempotent)."""
    hooks.install(logger=run_logger, progress_start=start_progress, progress_update=update_progress)
