"""What one pretraining run is: the model shape, the data, the schedule and the DeepSpeed plan, as
one JSON-serialisable dataclass that the flow writes and every rank reads."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .config import ModelConfig, preset
from .schedule import LRSchedule


@dataclass
class TrainSpec:
    data: str                               # folder of token shards (*.bin), or of packed samples (source)
    out: str                                # where rank 0 writes the finished model's files
    checkpoints: str                        # DeepSpeed checkpoints, kept across attempts (resume)
    preset: str = "tiny"
    model: dict[str, Any] = field(default_factory=dict)       # ModelConfig overrides
    seq_len: int = 128
    micro_batch: int = 4                    # sequences per rank per micro-step
    grad_accum: int = 1
    steps: int = 100
    # LR: "cosine_floor" (stage 1: warmup, cosine to floor_ratio x max_lr) or "anneal" (stage 2: to 0)
    schedule: str = "cosine_floor"
    max_lr: float = 3e-4
    warmup_steps: int = 0
    floor_ratio: float = 0.3
    anneal_shape: str = "linear"
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0
    zero_stage: int = 1
    offload_optimizer: bool = False
    offload_params: bool = False            # ZeRO-3 only
    activation_checkpointing: bool = False
    precision: str = "auto"                 # auto | bf16 | fp32 (auto: bf16 where the device supports it)
    checkpoint_every: int = 50
    keep_checkpoints: int = 2
    eval_every: int = 0                     # 0: only at the end
    eval_batches: int = 8
    valid_fraction: float = 0.05            # windows held out of training for validation loss
    valid_data: str = ""                    # another token folder to validate on (ablations)
    seed: int = 0
    init_from: str = ""                     # a finished model folder (stage 2 starts from stage 1)
    init_state: str = ""                    # a DeepSpeed checkpoint folder whose optimizer state a fresh run continues
    keep_optimizer_state: bool = False      # put the final DeepSpeed checkpoint into `out` (for init_state)
    tokenizer: str = ""                     # tokenizer folder, exported with the model
    peak_flops: float = 0.0                 # per rank, for MFU; 0: by device (measured on CPU)
    log_every: int = 1
    backend: str = ""                       # torch.distributed backend; "": nccl on CUDA, gloo on CPU
    source: str = "tokens"                  # tokens: windows of token shards; packed: packed chat samples (SFT)
    epoch_steps: int = 0                    # >0: steps per epoch; each epoch ends with validation and a model folder
    # long context (zhinao/model/seqpar): the model's RoPE base and length limit raised over init_from's
    # (0: kept), each sequence split over sp_size ranks (the others of the world: data parallel)
    rope_theta: float = 0.0
    max_seq_len: int = 0
    sp_size: int = 1
    sp_backend: str = "ring"                # ring | ulysses
    loss_chunk: int = 4096                  # tokens whose logits exist at once (split sequences)

    def __post_init__(self):
        self.betas = tuple(self.betas)
        if self.seq_len <= 0:
            raise ValueError("seq_len must be positive")
        check_deepspeed_plan(self)
        if self.source not in ("tokens", "packed"):
            raise ValueError(f"source {self.source!r}: choose tokens or packed")
        if self.epoch_steps < 0 or (self.epoch_steps and self.steps % self.epoch_steps):
            raise ValueError(f"steps {self.steps} is not a whole number of epochs of {self.epoch_steps} steps")
        self.lr_schedule()          # raises on an impossible schedule
        check_sequence_plan(self)
        cfg = self.model_config()
        if self.seq_len > cfg.max_seq_len:
            raise ValueError(f"seq_len {self.seq_len} is longer than the model's max_seq_len {cfg.max_seq_len}")

    @property
    def epochs(self) -> int:
        return self.steps // self.epoch_steps if self.epoch_steps else 0

    def model_config(self) -> ModelConfig:
        """The shape trained: init_from's when the run starts from a model folder, else the preset's,
        with the RoPE base and length limit this run raises (RoPE has no weights: the same weights
        load)."""
        if self.init_from:
            from .hf import config_from_hf

            cfg = config_from_hf(self.init_from)
        else:
            cfg = preset(self.preset, **self.model)
        raised = {"rope_base": self.rope_theta or cfg.rope_base, "max_seq_len": max(self.max_seq_len, cfg.max_seq_len)}
        return replace(cfg, **raised)

    def lr_schedule(self) -> LRSchedule:
        return LRSchedule(total_steps=self.steps, max_lr=self.max_lr, warmup_steps=self.warmup_steps,
                          floor_ratio=self.floor_ratio, kind=self.schedule, anneal_shape=self.anneal_shape)

    def tokens_per_step(self, world: int) -> int:
        """Tokens an optimizer step trains on over `world` ranks (sp_size ranks share a sequence)."""
        return self.seq_len * self.micro_batch * self.grad_accum * (world // self.sp_size)

    def save(self, path: Path) -> Path:
        path.write_text(json.dumps(asdict(self), indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "TrainSpec":
        return cls(**json.loads(Path(path).read_text()))


def check_deepspeed_plan(spec) -> None:
    """The batch, ZeRO, offload, precision and checkpoint settings a run spec (pretraining's, the
    reward model's) hands to DeepSpeed: raise ValueError on a combination it cannot run."""
    if spec.steps <= 0 or spec.micro_batch <= 0 or spec.grad_accum <= 0:
        raise ValueError("steps, micro_batch and grad_accum must be positive")
    if spec.zero_stage not in (0, 1, 2, 3):
        raise ValueError(f"zero_stage {spec.zero_stage}: DeepSpeed ZeRO has stages 0-3")
    if spec.offload_params and spec.zero_stage != 3:
        raise ValueError("offload_params needs zero_stage 3 (only ZeRO-3 partitions parameters)")
    if spec.offload_optimizer and spec.zero_stage == 0:
        raise ValueError("offload_optimizer needs zero_stage >= 1")
    if spec.precision not in ("auto", "bf16", "fp32"):
        raise ValueError(f"precision {spec.precision!r}: choose auto, bf16 or fp32")
    if spec.checkpoint_every <= 0:
        raise ValueError("checkpoint_every must be positive")


def check_sequence_plan(spec: TrainSpec) -> None:
    """Raise ValueError on a long-context setting the ranks cannot run."""
    if spec.rope_theta < 0 or spec.max_seq_len < 0:
        raise ValueError("rope_theta and max_seq_len are 0 (kept) or positive")
    if spec.sp_size < 1:
        raise ValueError(f"sp_size {spec.sp_size}: 1 (no sequence parallelism) or more ranks")
    if spec.sp_backend not in ("ring", "ulysses"):
        raise ValueError(f"sp_backend {spec.sp_backend!r}: ring or ulysses")
    if spec.loss_chunk <= 0:
        raise ValueError("loss_chunk must be positive")
    if spec.sp_size > 1 and spec.seq_len % (2 * spec.sp_size):
        raise ValueError(f"seq_len {spec.seq_len} does not split into 2 x sp_size {spec.sp_size} equal chunks "
                         "(the zigzag split): make it a multiple of that")
