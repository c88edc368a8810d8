"""What a training rank's memory holds: on CUDA the allocator's figures, on CPU the process's
resident memory (/proc/self/status), so a run reports its peak above what it held before its first
step (weights, and on CPU the libraries), the figure that grows with the sequence length."""
from __future__ import annotations

import torch


def _status_mib(field: str) -> float | None:
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(field + ":")) / 1024
    except (OSError, StopIteration):
        return None


def reset_peak(device: torch.device) -> float | None:
    """Start a new peak; the memory held now (MiB), or None where it cannot be read."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return torch.cuda.memory_allocated(device) / 2 ** 20
    try:
        with open("/proc/self/clear_refs", "w") as f:       # "5": reset the resident high-water mark
            f.write("5")
    except OSError:
        pass        # then the peak counts from the process's start: an over-estimate, never an under-
    return _status_mib("VmRSS")


def peak(device: torch.device) -> float | None:
    """The peak since reset_peak (MiB)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2 ** 20
    return _status_mib("VmHWM")
