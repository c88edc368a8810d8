"""A Prefect flow for every declared stage (zhinao/tasks/registry.py), each an attribute of this
module named after its stage (`dedup-minhash` -> `dedup_minhash`): what deployments name as their
entrypoint (`zhinao/flows/stages.py:dedup_minhash`) and what pipelines run."""
from zhinao.tasks.registry import stages

from .stage import make_flow

_made: dict[tuple[int, ...], dict] = {}


def attribute(name: str) -> str:
    return name.replace("-", "_")


def flows() -> dict:
    """Stage name -> its flow, for the stages declared now (ZHINAO_STAGE_MODULES may add some)."""
    found = stages()
    key = tuple(id(s) for s in found.values())
    if key not in _made:
        _made[key] = {name: make_flow(stage) for name, stage in found.items()}
    return _made[key]


def __getattr__(name: str):
    """`stages.dedup_minhash`: how Prefect loads a deployment's flow, and how callers import one."""
    for stage, made in flows().items():
        if attribute(stage) == name:
            return made
    raise AttributeError(f"module {__name__!r} has no attribute {name!r} (no stage {name.replace('_', '-')!r})")
