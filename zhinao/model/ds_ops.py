"""DeepSpeed's JIT-built C++ ops (shared-memory comm, CPU Adam ...) loaded under a lock that dies
with its holder.

torch guards each op's build folder with a plain `lock` file (`FileBaton`), taken on every load,
built or not. A rank killed while holding it (a stopped rank, a preempted node, a SIGKILL resume
test) leaves the file behind, and every later run on the machine waits on it forever at
`init_distributed`. Here each load first takes an `flock` on the same folder, which the kernel
drops when its holder dies; whoever holds it knows a `lock` file there was left by a dead process
and removes it. A process that builds the op without going through this module is not covered."""
from __future__ import annotations

import fcntl
import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

log = logging.getLogger(__name__)
GUARD = ".zhinao-build.lock"


def build_folder(name: str) -> Path:
    """The folder torch builds (and locks) op `name` in: TORCH_EXTENSIONS_DIR or its default."""
    from torch.utils.cpp_extension import _get_build_directory

    return Path(_get_build_directory(name, verbose=False))


@contextmanager
def op_lock(name: str) -> Iterator[Path]:
    """Hold the op's guard; a baton file found while holding it is stale and is removed."""
    folder = build_folder(name)
    with open(folder / GUARD, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        baton = folder / "lock"
        if baton.exists():
            log.warning("removing the stale build lock %s, left by a process that died while loading the "
                        "%s op", baton, name)
            baton.unlink(missing_ok=True)
        yield folder


def guard_jit_builds() -> None:
    """Route every DeepSpeed JIT op load of this process through `op_lock` (idempotent)."""
    from deepspeed.ops.op_builder.builder import OpBuilder

    if getattr(OpBuilder.jit_load, "_guarded", False):
        return
    original = OpBuilder.jit_load

    def jit_load(self, verbose=True):
        with op_lock(self.name):
            return original(self, verbose)

    jit_load._guarded = True
    OpBuilder.jit_load = jit_load
