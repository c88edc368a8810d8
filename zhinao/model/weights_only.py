"""DeepSpeed checkpoint files read with torch's weights-only unpickler. DeepSpeed's own engine reads
them with `weights_only=False`, so a file in a shared checkpoint folder could run code on every
trainer that resumes from it; here only tensors, plain containers and the few plain DeepSpeed
records listed below are rebuilt, and anything else is refused naming the file."""
from __future__ import annotations

import pickle

import torch
from deepspeed.runtime.checkpoint_engine.torch_checkpoint_engine import TorchCheckpointEngine
from deepspeed.runtime.fp16.loss_scaler import LossScaler
from deepspeed.runtime.zero.config import ZeroStageEnum
from deepspeed.utils.tensor_fragment import fragment_address

# The non-tensor types DeepSpeed 0.19 pickles into this project's checkpoints, found by saving
# ZeRO 0-3 with fp32 and bf16, with and without offload: the ZeRO and bf16 optimizer files hold these
# three, the model-states files none. Each is a plain record or enum: rebuilding it runs no code.
PLAIN_TYPES = [LossScaler, ZeroStageEnum, fragment_address]


class UnsafeCheckpoint(RuntimeError):
    """A checkpoint file that holds more than tensors and plain state, or is not a torch file."""

    retryable = False           # the same files are refused again: a person has to look


class WeightsOnlyEngine(TorchCheckpointEngine):
    def load(self, path: str, map_location=None):
        with torch.serialization.safe_globals(PLAIN_TYPES):
            try:
                return torch.load(path, map_location=map_location, weights_only=True)
            except pickle.UnpicklingError as e:
                raise UnsafeCheckpoint(f"{path}: refused, it holds objects other than tensors and plain "
                                       f"state ({_reason(e)})") from e
            except (RuntimeError, EOFError, ValueError) as e:
                raise UnsafeCheckpoint(f"{path}: not a readable torch checkpoint ({_reason(e)})") from e


def _reason(e: Exception) -> str:
    """The first sentence of torch's long message that names what it refused (not its advice to allow it)."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    named = [ln for ln in lines if "WeightsUnpickler error" in ln]
    return (named or lines or [type(e).__name__])[0].removeprefix("WeightsUnpickler error: ").split(". ")[0]


def use_weights_only(engine) -> None:
    """Make `engine` read its checkpoints through WeightsOnlyEngine (saving is unchanged)."""
    current = engine.checkpoint_engine
    if isinstance(current, WeightsOnlyEngine):
        return
    if type(current) is not TorchCheckpointEngine:       # another writer has its own file layout
        raise TypeError(f"{type(current).__name__}: only DeepSpeed's torch checkpoint engine is supported")
    engine.checkpoint_engine = WeightsOnlyEngine(engine._config)
