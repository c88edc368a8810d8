"""The DeepSpeed configuration of a run: ZeRO stage, offload, precision, clipping, batch sizes."""
from __future__ import annotations

from typing import Any

import torch

from .train_spec import TrainSpec


def use_bf16(spec: TrainSpec) -> bool:
    """bf16 where the device runs it fast: CUDA with bf16 support. On CPU `auto` keeps fp32 (the
    CPU's bf16 matmuls are emulated on most cores and slower); `bf16` forces it anywhere."""
    if spec.precision == "bf16":
        return True
    if spec.precision == "fp32":
        return False
    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def deepspeed_config(spec: TrainSpec, world: int) -> dict[str, Any]:
    zero: dict[str, Any] = {"stage": spec.zero_stage}
    if spec.offload_optimizer:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": torch.cuda.is_available()}
    if spec.offload_params:
        zero["offload_param"] = {"device": "cpu", "pin_memory": torch.cuda.is_available()}
    if spec.zero_stage == 3:
        zero["stage3_gather_16bit_weights_on_model_save"] = False   # rank 0 gathers the weights itself
    return {
        "train_micro_batch_size_per_gpu": spec.micro_batch,
        "gradient_accumulation_steps": spec.grad_accum,
        "train_batch_size": spec.micro_batch * spec.grad_accum * world,
        "gradient_clipping": spec.grad_clip,
        "optimizer": {"type": "AdamW", "params": {"lr": spec.max_lr, "betas": list(spec.betas),
                                                  "eps": 1e-8, "weight_decay": spec.weight_decay}},
        "bf16": {"enabled": use_bf16(spec)},
        "zero_optimization": zero,
        "steps_per_print": 10 ** 9,          # our own metrics log reports progress
        "wall_clock_breakdown": False,
    }
