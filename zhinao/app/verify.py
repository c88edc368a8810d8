"""`zhinao verify`: check whole versions against their manifests (files there, sizes, checksums),
show what is damaged, and recompute a damaged version by running its stage again with the inputs
and parameters it was made with (the run sets the damaged copy aside first)."""
from __future__ import annotations

import time
from dataclasses import dataclass

from zhinao.tasks.store import Manifest, Store
from zhinao.tasks.store.integrity import DamagedVersion, Problem, summary


@dataclass
class Checked:
    manifest: Manifest
    problems: list[Problem]
    files: int
    bytes: int


def versions(store: Store, refs: list[str]) -> list[Manifest]:
    """The versions named (a bare dataset: every version of it), or every version in the catalog.
    The catalog's copy of each manifest is used, so a version whose stored manifest is damaged is
    still known by its files."""
    if not refs:
        return [m for r in store.catalog.all() if (m := store.catalog.get(r["version"])) is not None]
    out = []
    for ref in refs:
        dataset, _, prefix = ref.partition("@")
        found = store.catalog.find(dataset, prefix)
        if not found:
            raise LookupError(f"no version of {dataset!r}" + (f" matching {prefix!r}" if prefix else "")
                              + " in the catalog (see `zhinao datasets`)")
        out += found
    return out


def check(store: Store, ms: list[Manifest], content: bool = True) -> list[Checked]:
    return [Checked(m, store.verify(m, content=content), len(m.shards) + len(m.drops),
                    sum(s.bytes for s in m.shards + m.drops)) for m in ms]


def health(store: Store, ms: list[Manifest]) -> dict[str, str]:
    """version -> what is wrong, for the versions a listing shows (the cheap check: no hashing)."""
    out = {}
    for m in ms:
        problems = store.verify(m, content=False, mark=False)
        if problems:
            out[m.version] = summary(problems, 2)
    return out


def recompute_args(store: Store, m: Manifest):
    """The stage flow, params and pinned inputs that made `m`."""
    from ..flows.registry import targets
    from ..flows.stage import input_names

    if m.kind == "audit":
        raise ValueError(f"{m.ref} is an audit side version: run `zhinao run {m.stage} -p audit=true` "
                         "with the inputs of the version it belongs to")
    target = targets().get(m.stage)
    if target is None or target.kind != "stage":
        raise ValueError(f"{m.ref} was made by {m.stage!r}, which is not a stage zhinao can run again "
                         "(an import): import it again")
    stage = target.flow.stage
    params = stage.params.model_validate(m.params)
    names = input_names(stage, params, {})
    if len(m.parents) < len(names):
        raise ValueError(f"{m.ref} names {len(m.parents)} parent(s), its stage reads {list(names)}")
    return target, params, dict(zip(names, m.parents))


def recompute(store: Store, m: Manifest, log) -> str:
    """Run the stage that made a damaged version again; returns the ref it made. With unchanged
    code that is the same version id (the damaged copy is set aside first); with changed code a new
    version, and the damaged one stays marked."""
    target, params, inputs = recompute_args(store, m)
    started = time.time()
    result = target.flow(params=params, inputs=inputs)
    log(f"{m.ref}: recomputed as {result.ref} ({result.rows:,} rows) in {time.time() - started:.1f} s"
        + ("" if result.version == m.version else "; the stage's code or sources changed since, so the id is new "
                                                  f"and {m.ref} stays marked damaged"))
    return result.ref


__all__ = ["Checked", "DamagedVersion", "check", "health", "recompute", "recompute_args", "versions"]
