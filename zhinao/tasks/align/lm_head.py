"""TRL's fused LM head, scoring only the labelled positions on CPU as it does on CUDA.

TRL 1.16 gives every trainer (DPO, GRPO, ReMax) a fused head: `model(..., labels, fused_lm_head=True)`
returns each next token's log-probability without the (batch, length, vocab) logits. On CUDA/XPU
it projects only the positions whose label is not -100; elsewhere it projects every position,
because on Neuron a changing number of positions would recompile the graph on every batch. CPU
compiles nothing, so it pays the LM head (28M of SmolLM2-135M's parameters, forward, recompute and
backward) on prompt and padding tokens whose results are thrown away (about two thirds of the
align benchmark's DPO batches, more of GRPO's; benchmarks/align.py prints the share and the gain).
Scoring only the labelled rows is the same computation per kept position
(tests/test_align_lm_head.py checks values and gradients against the full head).

TRL decides with one module-level function of `trl.trainer.utils` (`_use_triton`, used there for
that choice alone; the kernels keep their own copy to pick Triton or torch tiles). `compact_on_cpu`
replaces that one binding; an unknown TRL version is left as it is, with a warning."""
from __future__ import annotations

import logging

import torch

# inputs from outside the repository that shape output (zhinao/tasks/store/external.py)
EXTERNAL = {"libraries": ("trl", "torch")}

log = logging.getLogger("zhinao.align")
TESTED = ("1.16.",)                      # TRL versions whose trainer/utils uses the function as above
COMPACT_DEVICES = ("cuda", "xpu", "cpu")


def _compact(device: torch.device) -> bool:
    return device.type in COMPACT_DEVICES


def compact_on_cpu() -> bool:
    """Make TRL's fused head project only labelled positions on CPU; whether it now does."""
    import trl
    import trl.trainer.utils as utils

    if not trl.__version__.startswith(TESTED) or not callable(getattr(utils, "_use_triton", None)):
        log.warning("TRL %s: not a version whose fused LM head is known here (%s); it scores every position "
                    "on CPU, which is correct but slower", trl.__version__, ", ".join(v + "x" for v in TESTED))
        return False
    utils._use_triton = _compact
    return True
