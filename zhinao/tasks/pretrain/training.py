"""What every DeepSpeed training stage's plan and driver share: the tokenizer and vocabulary of a token
version, the run spec's values from the params (as their fields declare), and the folders a run
checkpoints and writes into."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from zhinao.model.train_spec import TrainSpec
from zhinao.tasks.params import spec_values
from zhinao.tasks.settings import get_settings


def tokenizer_of(tokens, store):
    """The tokenizer version a token-shard version was made with (its parent)."""
    refs = [r for r in tokens.parents if r.split("@")[0] == "tokenizer"]
    if tokens.kind != "tokens" or not refs:
        raise ValueError(f"{tokens.ref} is not a token-shard version made by the tokenizer stage")
    return store.resolve(refs[0])


def vocab_size(tokenizer_folder: Path) -> int:
    from tokenizers import Tokenizer

    size = Tokenizer.from_file(str(tokenizer_folder / "tokenizer.json")).get_vocab_size()
    return -(-size // 64) * 64          # a multiple of 64: friendlier matmul shapes


def run_fields(p) -> dict[str, Any]:
    """The params' part of a training run's TrainSpec (zhinao.tasks.params.spec_values)."""
    return spec_values(p, TrainSpec)


def check_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Fail on a bad configuration in the plan, before any process starts."""
    TrainSpec(**spec, out="-", checkpoints="-")
    return spec


def work_folder(ctx) -> Path:
    """Checkpoints and run files: the version's resume folder (kept across attempts, removed on
    commit), on local disk even when the store is remote."""
    root = ctx.store.root
    return Path(root.join(ctx.resume)) if root.is_local else \
        get_settings().home / "checkpoints" / ctx.stage.name / ctx.version


def training_splits(ctx) -> list[dict]:
    """The plan's splits with the stage, version, and the run's checkpoint and output folders."""
    work = work_folder(ctx)
    return [s | {"stage": ctx.stage.name, "version": ctx.version,
                 "spec": s["spec"] | {"checkpoints": str(work), "out": str(work / "final")}}
            for s in ctx.plan.splits]
