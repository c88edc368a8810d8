"""Paper arithmetic for a config: training FLOPs per token, the tokens/s a given MFU buys, and the
memory per GPU of parameters, gradients and Adam states under each ZeRO stage (mixed precision)."""
from __future__ import annotations

from .config import ModelConfig

# bf16 dense peak of one accelerator, FLOP/s (the MFU denominator)
PEAK_FLOPS = {"h100-sxm": 989e12, "h200": 989e12, "a100": 312e12}


def flops_per_token(cfg: ModelConfig, seq_len: int) -> float:
    """Forward + backward: 6 x parameters (every weight: a multiply-add forward, two backward) plus
    attention scores and values: 12 x layers x dim x seq_len (causal masking is not subtracted,
    as in the usual MFU convention)."""
    return 6 * cfg.num_params() + 12 * cfg.n_layers * cfg.dim * seq_len


def tokens_per_second(cfg: ModelConfig, seq_len: int, mfu: float, peak: float) -> float:
    return mfu * peak / flops_per_token(cfg, seq_len)


def zero_memory_gb(cfg: ModelConfig, stage: int, gpus: int) -> float:
    """Bytes per GPU for bf16 params (2) + bf16 grads (2) + fp32 master, Adam m and v (12), sharded
    by ZeRO: stage 1 shards the optimizer states, 2 also the gradients, 3 also the parameters.
    Activations and buffers come on top."""
    if stage not in (0, 1, 2, 3):
        raise ValueError(f"ZeRO stage {stage} does not exist (0-3)")
    n = cfg.num_params()
    params, grads, optim = 2.0, 2.0, 12.0
    if stage >= 1:
        optim /= gpus
    if stage >= 2:
        grads /= gpus
    if stage >= 3:
        params /= gpus
    return n * (params + grads + optim) / 1e9


def device_peak_flops(device) -> tuple[float, str]:
    """The MFU denominator for one rank and where it comes from: the bf16 dense peak of a known
    GPU, or on CPU a measured fp32 matmul rate (this machine's practical peak)."""
    import time

    import torch

    if device.type == "cuda":
        name = torch.cuda.get_device_name(device).lower()
        for key, peak in (("h200", PEAK_FLOPS["h200"]), ("h100", PEAK_FLOPS["h100-sxm"]), ("a100", PEAK_FLOPS["a100"])):
            if key in name:
                return peak, f"{name} bf16 dense peak"
        return 0.0, f"unknown peak for {name}"
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b                                    # warm up
    runs, started = 0, time.perf_counter()
    while time.perf_counter() - started < 0.3:
        a @ b
        runs += 1
    return 2 * 1024 ** 3 * runs / (time.perf_counter() - started), "measured fp32 1024x1024 matmul on this CPU"
