"""LoRA adapters merged into their base model's full-precision weights.

Each adapter is folded in by PEFT (`merge_and_unload`: W + B A x alpha / r on every adapted layer)
on a base loaded in float32, never on a quantized one (merging into 4-bit weights and dequantizing
is a known way to ruin the result, transformers #31293); several adapters are then combined as task
arithmetic over their deltas, theta = base + sum_i w_i (merged_i - base), by zhinao/tasks/align/merge.py."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from .merge import combine

# inputs from outside the repository that shape output (zhinao/tasks/store/external.py)
EXTERNAL = {"libraries": ("peft", "transformers", "torch")}


def fold_adapter(base: Path, adapter: Path, out: Path) -> Path:
    """base + one adapter, in float32, as an HF folder (the base's tokenizer files beside)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    merged.save_pretrained(out, safe_serialization=True)
    for f in Path(base).iterdir():
        if f.is_file() and not f.name.endswith(".safetensors") and not (out / f.name).exists():
            shutil.copy2(f, out / f.name)
    return out


def merge_adapters(base: Path, adapters: list[Path], weights: list[float], out: Path) -> dict:
    """base + sum_i weights[i] x delta of adapters[i], as a safetensors HF folder."""
    if len(adapters) != len(weights) or not adapters:
        raise ValueError(f"{len(weights)} weights for {len(adapters)} adapters")
    with tempfile.TemporaryDirectory(prefix="lora-merge-") as tmp:
        folded = [fold_adapter(base, a, Path(tmp) / f"adapter-{i}") for i, a in enumerate(adapters)]
        # every folded model carries the base's config; the base's own config.json goes out
        return combine([*folded, Path(base)], [*weights, 1.0 - sum(weights)], out)
