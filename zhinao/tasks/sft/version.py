"""What an SFT model version holds: the best epoch's Llama folder (weights, config, the base
model's tokenizer with its chat template, a generation config that stops at the end of an
assistant turn), the run's metrics, summary and spec, each epoch's scores and eval tables, the
packing figures, and the loss and epoch plots."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from .render import ChatRenderer


def write_generation_config(folder: Path, renderer: ChatRenderer) -> None:
    """Chat generation ends at the turn's end token (<|im_end|>) as well as at end of text."""
    from transformers import GenerationConfig

    tok = renderer.tok
    eos = list(dict.fromkeys(i for i in renderer.turn_end_ids() + [tok.eos_token_id] if i is not None))
    GenerationConfig(bos_token_id=tok.bos_token_id, eos_token_id=eos, pad_token_id=renderer.pad_id).save_pretrained(folder)


def assemble(out: Path, best: Path, run_files: Path, extra: dict[str, Path], state: dict[str, Any]) -> Path:
    """The version's folder at `out` (made anew): `best`'s files, the run's metrics and spec from
    `run_files`, `extra` files by name, and trainer_state.json = `state`."""
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(best, out)
    for name in ("metrics.jsonl", "train_spec.json"):
        shutil.copyfile(run_files / name, out / name)
    for name, path in extra.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, out / name)
    (out / "trainer_state.json").write_text(json.dumps(state, indent=2, default=str))
    return out
