"""Packed sequences for scoring: several inputs concatenated into one row, each with its own
positions (restarting at 0), attention kept within each input. The projections, MLPs and output
head, most of a forward's work, then run on no padding at all.

The attention is transformers' own sdpa (integrations.sdpa_attention) over the inputs laid out as
a right-padded causal batch, so each input's numbers are those of a forward over it alone. It is
registered under its own name with transformers' AttentionInterface, and a model uses it only
inside `packed_attention(model)`: transformers builds no mask for an attention it does not know,
so every other forward (padding masks, a KV cache) keeps the model's own attention."""
from __future__ import annotations

import logging
from contextlib import contextmanager

# inputs from outside the repository that shape output (zhinao/tasks/store/external.py)
EXTERNAL = {"libraries": ("torch", "transformers")}

log = logging.getLogger("zhinao.eval")

PACKED = "zhinao_packed_sdpa"


def packed_sdpa(module, query, key, value, attention_mask, **kwargs):
    """sdpa over a packed row (positions restarting at 0 where an input begins): the inputs'
    queries, keys and values are laid out as a right-padded batch for this one causal call, and the
    result goes back to the packed row. Under the causal mask a real position sees only real
    positions before it; what the padding positions compute is never read. The projections and
    MLPs around it never see padding. Any other call (a mask, a KV cache, a batch of rows) is plain
    sdpa."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    pos = kwargs.get("position_ids")
    if attention_mask is not None or pos is None or pos.shape[0] != 1 or query.shape[2] != key.shape[2]:
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    index, shape = _layout(pos)
    if index is None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    n, width = shape

    def padded(x):              # (1, heads, T, d) -> (n, heads, width, d)
        buf = x.new_zeros(n * width, x.shape[1], x.shape[3])
        buf.index_copy_(0, index, x[0].transpose(0, 1))
        return buf.view(n, width, x.shape[1], x.shape[3]).transpose(1, 2)

    out, _ = sdpa_attention_forward(module, padded(query), padded(key), padded(value), None, **kwargs)
    return out.reshape(n * width, *out.shape[2:]).index_select(0, index)[None], None


_LAYOUT: dict = {}


def _layout(pos):
    """(index of each packed position in the padded batch, (inputs, width)) for the packed row's
    position ids; (None, None) when the row holds one input. Every layer of a forward gets the
    same position tensor: the layout is made once per forward."""
    import torch

    if _LAYOUT.get("pos") is pos:
        return _LAYOUT["layout"]
    p = pos[0]
    starts = torch.nonzero(p == 0).flatten()
    if len(starts) < 2 or int(starts[0]) != 0:
        layout = (None, None)
    else:
        seg = torch.cumsum(p == 0, 0) - 1                       # which input each position belongs to
        lengths = torch.diff(torch.cat([starts, starts.new_tensor([len(p)])]))
        width = int(lengths.max())
        layout = (seg * width + p, (len(lengths), width))
    _LAYOUT.update(pos=pos, layout=layout)
    return layout


@contextmanager
def packed_attention(model):
    """The model's attention is packed_sdpa inside the block (`can_pack` registered it)."""
    before = model.config._attn_implementation
    model.set_attn_implementation(PACKED)
    try:
        yield
    finally:
        model.set_attn_implementation(before)


def can_pack(model, body) -> bool:
    """Whether `model` (an HF causal LM) can score packed rows: its attention is sdpa without
    sliding windows, it takes another attention through AttentionInterface, and on a probe a packed
    forward of two inputs gives each input's own hidden states."""
    import torch
    from transformers import AttentionInterface

    cfg = model.config
    if getattr(cfg, "sliding_window", None) or getattr(cfg, "_attn_implementation", None) != "sdpa":
        return False
    AttentionInterface.register(PACKED, packed_sdpa)
    device = next(model.parameters()).device
    a, b = [1, 5, 9, 13, 17, 21], [2, 6, 10]
    try:
        with torch.inference_mode():
            alone = [_last_states(body, torch.tensor([x], device=device))[0] for x in (a, b)]
            pos = torch.tensor([list(range(len(a))) + list(range(len(b)))], device=device)
            with packed_attention(model):
                if cfg._attn_implementation != PACKED:
                    return False
                packed = _last_states(body, torch.tensor([a + b], device=device), position_ids=pos)[0]
    except (ValueError, NotImplementedError, AttributeError) as e:
        log.info("no packed scoring for %s: %s", type(model).__name__, e)
        return False
    if torch.allclose(packed, torch.cat(alone), atol=1e-4, rtol=1e-4):
        return True
    log.info("packed inputs do not score as inputs alone for %s: padded batches instead", type(model).__name__)
    return False


def _last_states(body, ids, **kwargs):
    out = body(input_ids=ids, **kwargs)
    return out.last_hidden_state if hasattr(out, "last_hidden_state") and out.last_hidden_state is not None \
        else out.logits
