"""What one reward-model run is: the base model, the tokenized pairs, the schedule and the DeepSpeed
plan, as one JSON-serialisable dataclass that the stage writes and every rank reads."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from zhinao.model.schedule import LRSchedule
from zhinao.model.train_spec import check_deepspeed_plan

RANK_MODULE = "zhinao.tasks.reward.train_rank"


@dataclass
class RewardSpec:
    model: str                              # the base HF folder (a causal LM or a sequence classifier)
    pairs: str                              # the tokenized pairs (pair_data.prepare)
    out: str                                # where rank 0 writes the finished reward model
    checkpoints: str                        # DeepSpeed checkpoints, kept across attempts (resume)
    steps: int = 100
    micro_batch: int = 8                    # pairs per rank per micro-step (2x sequences)
    grad_accum: int = 1
    max_lr: float = 1e-3
    warmup_steps: int = 0
    floor_ratio: float = 0.1
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0
    zero_stage: int = 1
    offload_optimizer: bool = False
    offload_params: bool = False
    activation_checkpointing: bool = False
    precision: str = "auto"
    checkpoint_every: int = 50
    keep_checkpoints: int = 2
    eval_every: int = 0                     # 0: only at the end
    eval_batch: int = 16                    # pairs per validation forward pass
    seed: int = 0
    log_every: int = 1
    backend: str = ""

    def __post_init__(self):
        self.betas = tuple(self.betas)
        check_deepspeed_plan(self)
        self.lr_schedule()

    def lr_schedule(self) -> LRSchedule:
        return LRSchedule(total_steps=self.steps, max_lr=self.max_lr, warmup_steps=self.warmup_steps,
                          floor_ratio=self.floor_ratio, kind="cosine_floor")

    def pairs_per_step(self, world: int) -> int:
        return self.micro_batch * self.grad_accum * world

    def save(self, path: Path) -> Path:
        path.write_text(json.dumps(asdict(self), indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "RewardSpec":
        return cls(**json.loads(Path(path).read_text()))
