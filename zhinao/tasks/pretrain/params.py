"""Parameters every DeepSpeed training stage shares: optimizer, ZeRO plan, precision, ranks and their
launcher, checkpoint cadence (pretraining, sft, the reward model); `StepParams` adds the batch and
validation cadence of the stages that run a set number of steps (pretraining, the reward model)."""
from typing import Literal

from pydantic import Field

from zhinao.tasks.params import NOT_IN_KEY, PLAN_READS, StageParams


class DeepSpeedParams(StageParams):
    use_ray: bool = Field(False, description="Run the launcher inside a Ray task (launcher=ray is what places "
                                             "the ranks themselves on Ray).", json_schema_extra=NOT_IN_KEY)
    weight_decay: float = Field(0.1, ge=0)
    grad_clip: float = Field(1.0, ge=0)
    zero_stage: int = Field(1, ge=0, le=3, description="DeepSpeed ZeRO stage: 0 none, 1 optimizer states, "
                                                       "2 + gradients, 3 + parameters sharded across ranks.")
    offload_optimizer: bool = Field(False, description="ZeRO-Offload: optimizer states and step on the CPU.")
    offload_params: bool = Field(False, description="ZeRO-3 parameter offload to the CPU.")
    activation_checkpointing: bool = Field(False, description="Recompute block activations in the backward pass.")
    precision: Literal["auto", "bf16", "fp32"] = Field("auto", description="auto: bf16 on GPUs that support "
                                                                           "it, fp32 on CPU.")
    # cadences: a resumed run continues whatever they are, so they stay out of the version id
    checkpoint_every: int = Field(50, gt=0, description="Steps between checkpoints (and at the end).",
                                  json_schema_extra=NOT_IN_KEY)
    keep_checkpoints: int = Field(2, gt=0, json_schema_extra=NOT_IN_KEY)
    seed: int = 0
    world_size: int = Field(1, gt=0, description="Ranks (CPU: gloo; one per GPU: NCCL).", json_schema_extra=PLAN_READS)
    launcher: Literal["processes", "deepspeed", "ray"] = Field(
        "processes", json_schema_extra=NOT_IN_KEY, description="processes: ranks on this machine; deepspeed: the "
        "deepspeed launcher (hostfile); ray: one Ray actor per rank across the Ray cluster (RAY_ADDRESS).")
    hostfile: str = Field("", json_schema_extra=NOT_IN_KEY, description="deepspeed launcher hostfile (nodes).")
    log_every: int = Field(1, gt=0, json_schema_extra=NOT_IN_KEY)


class StepParams(DeepSpeedParams):
    micro_batch: int = Field(8, gt=0, description="Sequences per rank per micro-step.")
    grad_accum: int = Field(1, gt=0, description="Micro-steps per optimizer step.")
    eval_every: int = Field(0, ge=0, description="Steps between validation losses (0: only at the end).",
                            json_schema_extra=NOT_IN_KEY)


def peak_flops_field():
    """The MFU estimate's peak, for the stages whose loop reports MFU (zhinao/model/train.py)."""
    return Field(0.0, ge=0, json_schema_extra=NOT_IN_KEY, description=(
        "Peak FLOP/s of one rank for the MFU estimate; 0: a known GPU's bf16 peak, or measured on CPU."))
