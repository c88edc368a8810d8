"""What one alignment run is (DPO, GRPO or ReMax through TRL): the model, its training rows, the
schedule and the method's knobs, as one JSON-serialisable dataclass that the stage writes and the
rank (zhinao/tasks/align/rank.py) reads."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .methods import method

RANK_MODULE = "zhinao.tasks.align.rank"


@dataclass
class AlignSpec:
    method: str                              # a name in zhinao/tasks/align/methods.py
    model: str                               # the HF folder trained (the policy)
    data: str                                # the training rows (a Parquet file the stage prepared)
    out: str                                 # the finished model (or LoRA adapter) folder
    checkpoints: str                         # TRL/HF Trainer checkpoints, kept across attempts (resume)
    steps: int = 10
    batch_size: int = 4                      # rows per device per micro-step (GRPO: completions)
    grad_accum: int = 1
    lr: float = 1e-5
    warmup_steps: int = 0
    weight_decay: float = 0.0
    max_length: int = 1024                   # DPO: prompt + answer tokens
    beta: float = 0.1                        # DPO's beta; GRPO's KL coefficient
    loss_type: str = ""                      # DPO: sigmoid (default), ipo, ...; GRPO: grpo (default), dapo, ...
    checkpoint_every: int = 50
    keep_checkpoints: int = 2
    seed: int = 0
    precision: str = "float32"               # float32 | bf16
    # DPO
    ref_model: str | None = None             # the reference (default: the model as it starts)
    lora: dict[str, Any] | None = None       # LoRA: r, alpha, dropout, target_modules (the out is an adapter)
    quantize: bool = False                   # QLoRA: a 4-bit base under the adapter (CUDA + bitsandbytes)
    # GRPO / ReMax
    num_generations: int = 4
    max_completion_length: int = 64
    temperature: float = 1.0
    scale_rewards: str = "group"             # group | batch | none
    rewards: dict[str, float] = field(default_factory=dict)   # source -> weight (zhinao/tasks/align/rewards.py)
    reward_model: str | None = None          # the reward model folder, when rewards use one
    use_vllm: bool = False                   # rollouts on vLLM (colocated) instead of transformers

    def __post_init__(self):
        how = method(self.method)
        self.loss_type = self.loss_type or how.loss_type
        if self.steps < 1 or self.batch_size < 1 or self.grad_accum < 1:
            raise ValueError("steps, batch_size and grad_accum are at least 1")
        if how.samples:
            if self.num_generations < 2:
                raise ValueError(f"{self.method} samples at least 2 answers per prompt (num_generations)")
            if self.batch_size % self.num_generations:
                raise ValueError(f"batch_size {self.batch_size} (completions) is not a multiple of num_generations "
                                 f"{self.num_generations}")
        if self.quantize and not self.lora:
            raise ValueError("quantize (QLoRA) trains a LoRA adapter: give lora too")
        if self.precision not in ("float32", "bf16"):
            raise ValueError(f"precision {self.precision!r}: float32 or bf16")

    # what tasks/pretrain/run.train_run reads of a spec
    zero_stage: int = 0
    offload_optimizer: bool = False

    def save(self, path: Path) -> Path:
        path.write_text(json.dumps(asdict(self), indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "AlignSpec":
        return cls(**json.loads(Path(path).read_text()))
