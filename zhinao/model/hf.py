"""Hugging Face Llama checkpoints: export (config.json + model.safetensors + tokenizer files) that
transformers, TRL and vLLM load as LlamaForCausalLM, and import back. Our weights have Llama's
shapes and RoPE layout, so both directions are a rename."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from .config import ModelConfig
from .transformer import Transformer

_LAYER = {"attn_norm.weight": "input_layernorm.weight", "attn.wq.weight": "self_attn.q_proj.weight",
          "attn.wk.weight": "self_attn.k_proj.weight", "attn.wv.weight": "self_attn.v_proj.weight",
          "attn.wo.weight": "self_attn.o_proj.weight", "ffn_norm.weight": "post_attention_layernorm.weight",
          "ffn.w1.weight": "mlp.gate_proj.weight", "ffn.w3.weight": "mlp.up_proj.weight",
          "ffn.w2.weight": "mlp.down_proj.weight"}
_TOP = {"tok_embeddings.weight": "model.embed_tokens.weight", "norm.weight": "model.norm.weight",
        "output.weight": "lm_head.weight"}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja")


def hf_name(name: str) -> str:
    if name in _TOP:
        return _TOP[name]
    _, i, rest = name.split(".", 2)          # layers.<i>.<rest>
    return f"model.layers.{i}.{_LAYER[rest]}"


def our_name(name: str) -> str:
    inverse_top = {v: k for k, v in _TOP.items()}
    if name in inverse_top:
        return inverse_top[name]
    inverse = {v: k for k, v in _LAYER.items()}
    prefix, rest = name.removeprefix("model.layers.").split(".", 1)
    if not name.startswith("model.layers.") or rest not in inverse:
        raise KeyError(f"unexpected tensor {name!r} in a Llama checkpoint")
    return f"layers.{prefix}.{inverse[rest]}"


def llama_config(cfg: ModelConfig, dtype: torch.dtype, bos: int | None = None, eos: int | None = None):
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=cfg.vocab_size, hidden_size=cfg.dim, intermediate_size=cfg.ffn_dim,
                       num_hidden_layers=cfg.n_layers, num_attention_heads=cfg.n_heads,
                       num_key_value_heads=cfg.n_kv_heads, head_dim=cfg.head_dim, rms_norm_eps=cfg.norm_eps,
                       max_position_embeddings=cfg.max_seq_len,
                       rope_parameters={"rope_type": "default", "rope_theta": cfg.rope_base},
                       tie_word_embeddings=False, attention_bias=False, mlp_bias=False, hidden_act="silu",
                       bos_token_id=bos, eos_token_id=eos, dtype=dtype, architectures=["LlamaForCausalLM"])


def export_hf(model: Transformer, out: str | Path, tokenizer: str | Path | None = None,
              dtype: torch.dtype = torch.float32) -> Path:
    """Write a Llama checkpoint folder; `tokenizer`: a folder whose tokenizer files are copied in."""
    from safetensors.torch import save_file

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    bos = eos = None
    if tokenizer is not None:
        for name in TOKENIZER_FILES:
            if (Path(tokenizer) / name).exists():
                shutil.copyfile(Path(tokenizer) / name, out / name)
        special = out / "tokenizer_config.json"
        if special.exists():
            conf = json.loads(special.read_text())
            bos, eos = conf.get("bos_token_id"), conf.get("eos_token_id")
    llama_config(model.cfg, dtype, bos, eos).save_pretrained(out)
    tensors = {hf_name(k): v.detach().to(dtype).contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    return out


def config_from_hf(folder: str | Path) -> ModelConfig:
    raw = json.loads((Path(folder) / "config.json").read_text())
    if raw.get("model_type") != "llama":
        raise ValueError(f"{folder}: model_type {raw.get('model_type')!r} is not a Llama checkpoint")
    rope = rope_base(raw, folder)
    return ModelConfig(vocab_size=raw["vocab_size"], dim=raw["hidden_size"], n_layers=raw["num_hidden_layers"],
                       n_heads=raw["num_attention_heads"], n_kv_heads=raw.get("num_key_value_heads",
                                                                              raw["num_attention_heads"]),
                       ffn_dim=raw["intermediate_size"], rope_base=float(rope), norm_eps=raw["rms_norm_eps"],
                       max_seq_len=raw["max_position_embeddings"])


def rope_base(raw: dict, folder: str | Path = "") -> float:
    """The RoPE base of a Llama config.json as transformers 5 reads it: `rope_parameters.rope_theta`
    (older files: a top-level `rope_theta`; neither: 10,000). A top-level value that disagrees is
    refused rather than silently used (a config edited by hand for a longer context), and so is a
    scaled RoPE (linear, dynamic, yarn, llama3), which this model does not implement."""
    params, top = raw.get("rope_parameters") or raw.get("rope_scaling") or {}, raw.get("rope_theta")
    kind = params.get("rope_type", params.get("type", "default"))
    if kind != "default":
        raise ValueError(f"{folder}: rope_type {kind!r} is not supported (only unscaled RoPE: raise the base instead)")
    theta = params.get("rope_theta", top if top is not None else 10_000.0)
    if top is not None and float(top) != float(theta):
        raise ValueError(f"{folder}: config.json says rope_theta {top:g} at the top and {theta:g} in rope_parameters; "
                         "transformers uses rope_parameters: remove the stale top-level value")
    return float(theta)


def import_hf(folder: str | Path) -> Transformer:
    """Our model from a Llama checkpoint folder (single or sharded safetensors)."""
    model = Transformer(config_from_hf(folder))
    load_weights(model, hf_weights(folder), folder)
    return model


def hf_weights(folder: str | Path) -> dict[str, torch.Tensor]:
    """A Llama folder's weights under our names, in fp32. A checkpoint with tied input and output
    embeddings (SmolLM2) stores one matrix: the output layer starts as a copy (ours are untied)."""
    from safetensors.torch import load_file

    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"{folder}: no .safetensors weights")
    state = {}
    for f in files:
        state.update({our_name(k): v.float() for k, v in load_file(str(f)).items() if "rotary_emb" not in k})
    tied = json.loads((Path(folder) / "config.json").read_text()).get("tie_word_embeddings", False)
    if tied and "output.weight" not in state and "tok_embeddings.weight" in state:
        state["output.weight"] = state["tok_embeddings.weight"].clone()
    return state


def weights_problem(shapes: dict[str, tuple[int, ...]], state: dict[str, torch.Tensor],
                    folder: str | Path) -> str | None:
    """Why `state` does not fit a model whose tensors have `shapes` ({name: shape}), or None."""
    missing = [k for k in shapes if k not in state]
    unexpected = [k for k in state if k not in shapes]
    if missing or unexpected:
        return f"{folder}: weights do not fit the config (missing {missing[:4]}, unexpected {unexpected[:4]})"
    wrong = [f"{k} {tuple(state[k].shape)} != {shapes[k]}" for k in shapes if tuple(state[k].shape) != shapes[k]]
    if wrong:
        return f"{folder}: weights do not fit the config (shapes: {wrong[:4]})"
    return None


def load_weights(model: Transformer, state: dict[str, torch.Tensor], folder: str | Path) -> None:
    problem = weights_problem({k: tuple(v.shape) for k, v in model.state_dict().items()}, state, folder)
    if problem:
        raise ValueError(problem)
    model.load_state_dict(state)
