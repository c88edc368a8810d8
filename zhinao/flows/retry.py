"""Which failures a stage retries: the ones another attempt can fix (a dead worker or rank, a lost
connection, a busy cluster). A bad parameter, a missing input or source, an unknown reference or a
missing module fails the same way every time: it is raised at once, with one message."""
from __future__ import annotations

# A Ray task's error is an instance of its cause's class too (RayTaskError.as_instanceof_cause), so
# a ValueError raised in a worker is recognised here as well.
DETERMINISTIC: tuple[type[BaseException], ...] = (
    ValueError, LookupError, TypeError, AttributeError, ImportError, FileNotFoundError,
    PermissionError, NotADirectoryError, IsADirectoryError, NotImplementedError)


def retryable(exc: BaseException) -> bool:
    """An exception says so itself with a `retryable` attribute; otherwise its class decides."""
    flag = getattr(exc, "retryable", None)
    if flag is not None:
        return bool(flag)
    return isinstance(exc, Exception) and not isinstance(exc, DETERMINISTIC)
