"""Memory tricks applied around a plain model (the model itself stays readable): activation
checkpointing recomputes each block's activations in the backward pass instead of keeping them."""
from __future__ import annotations

from torch import nn
from torch.utils.checkpoint import checkpoint


class Checkpointed(nn.Module):
    """A block whose forward keeps only its inputs; the backward pass runs it again."""

    def __init__(self, block: nn.Module):
        super().__init__()
        self.block = block

    def forward(self, *args):
        if not self.training:
            return self.block(*args)
        return checkpoint(self.block, *args, use_reentrant=False)


def apply_activation_checkpointing(model: nn.Module) -> nn.Module:
    """Wrap every transformer block of `model.layers`; parameter names gain a `.block` segment,
    which `plain_state_dict` removes again for saving."""
    model.layers = nn.ModuleList(layer if isinstance(layer, Checkpointed) else Checkpointed(layer)
                                 for layer in model.layers)
    return model


def plain_state_dict(state: dict) -> dict:
    """A state dict with the wrappers' name segments removed (what the plain model loads)."""
    return {k.replace(".block.", "."): v for k, v in state.items()}
