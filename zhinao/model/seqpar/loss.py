"""The loss of a long sequence: next-token cross-entropy over the output projection computed a
chunk of tokens at a time (the full tokens x vocabulary logits never exist: each chunk's logits are
recomputed in the backward), and a mean over the valid tokens of every sequence-parallel rank
(a rank may hold none: its share is 0, never NaN)."""
from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

IGNORE = -100


def _chunk_loss(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    logits = hidden @ weight.t()
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))      # bf16 logits: summed in fp32
    return F.cross_entropy(logits, targets, ignore_index=IGNORE, reduction="sum")


def chunked_loss(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor,
                 chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of the cross-entropy over valid targets, their count). hidden: (..., dim), the final
    norm's output; weight: (vocab, dim), the output projection; targets: (...), IGNORE = none.
    At most `chunk` tokens' logits are held at once, forward and backward."""
    hidden, targets = hidden.reshape(-1, hidden.shape[-1]), targets.reshape(-1)
    # a zero that reaches hidden and weight: a rank with no valid target still gives every parameter
    # a (zero) gradient, so its backward and the gradient reduction match the other ranks'
    total = (hidden[:1] @ weight[:1].t()).sum() * 0.0
    total = total.to(torch.promote_types(total.dtype, torch.float32))
    for start in range(0, hidden.shape[0], chunk):
        part = targets[start:start + chunk]
        if not bool((part != IGNORE).any()):
            continue
        total = total + checkpoint(_chunk_loss, hidden[start:start + chunk], weight, part, use_reentrant=False)
    return total, (targets != IGNORE).sum()


def token_mean(loss_sum: torch.Tensor, count: torch.Tensor, group: dist.ProcessGroup | None = None) -> torch.Tensor:
    """This rank's share of the mean over every rank's valid tokens, scaled so that the mean of the
    shares (what data-parallel gradient averaging takes) is that mean: sum * world / total."""
    if not dist.is_available() or not dist.is_initialized():
        return loss_sum / count.clamp(min=1)
    total = count.detach().to(torch.float64).clone()
    dist.all_reduce(total, group=group)
    world = dist.get_world_size(group)
    return loss_sum * (world / total.clamp(min=1)).to(loss_sum.dtype)
