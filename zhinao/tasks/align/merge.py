"""Model merging over Hugging Face safetensors folders of one architecture.

Every method is one linear combination theta = sum_j c_j theta_j of the models' weights, tensor by
tensor (so a 7B merge holds one tensor of each model at a time), accumulated in float64 and cast
back to the weights' own dtype:
- interpolate: theta = sum_i w_i theta_i, the weights summing to 1;
- task arithmetic: theta = base + sum_i l_i (theta_i - base);
- extrapolate: theta = model + alpha (model - base) (360Zhinao2's chat model: v1 + 0.2 (v1 - sft)).
Tensors that are not floating point (integer buffers) must be equal in every model and are copied."""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

# inputs from outside the repository that shape output (zhinao/tasks/store/external.py)
EXTERNAL = {"libraries": ("torch", "safetensors")}

log = logging.getLogger("zhinao.align")

METHODS = ("interpolate", "task_arithmetic", "extrapolate")
# config keys that describe the architecture: models merged must agree on all of them that they set
ARCH_KEYS = ("model_type", "architectures", "hidden_size", "intermediate_size", "num_hidden_layers",
             "num_attention_heads", "num_key_value_heads", "vocab_size", "head_dim", "tie_word_embeddings",
             "max_position_embeddings", "rope_theta", "rope_parameters", "hidden_act", "num_labels")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
                   "generation_config.json")
SHARD_BYTES = 2 << 30


def coefficients(method: str, n_models: int, weights: list[float] | None = None,
                 alpha: float | None = None) -> tuple[list[float], float]:
    """(coefficient of each model, coefficient of the base) for `method`. interpolate has no base
    (its coefficient is 0); extrapolate takes one model."""
    if method not in METHODS:
        raise ValueError(f"merge method {method!r}: one of {', '.join(METHODS)}")
    if n_models < 1:
        raise ValueError("merge needs at least one model")
    if method == "extrapolate":
        if n_models != 1 or alpha is None:
            raise ValueError("extrapolate takes one model, a base and alpha: model + alpha (model - base)")
        return [1.0 + alpha], -alpha
    w = list(weights) if weights else [1.0 / n_models] * n_models
    if len(w) != n_models:
        raise ValueError(f"{len(w)} weights for {n_models} models")
    if method == "interpolate":
        if abs(sum(w) - 1.0) > 1e-6:
            raise ValueError(f"interpolation weights sum to 1 (these sum to {sum(w):g}); "
                             "task_arithmetic takes free coefficients")
        return w, 0.0
    return w, 1.0 - sum(w)


def read_config(folder: Path) -> dict:
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{folder} is not a Hugging Face model folder (no config.json)")
    return json.loads(path.read_text())


def check_architecture(folders: list[Path]) -> dict:
    """The first model's config, after checking that every other model has the same architecture."""
    configs = [read_config(f) for f in folders]
    for folder, cfg in zip(folders[1:], configs[1:]):
        differ = [k for k in ARCH_KEYS if configs[0].get(k) != cfg.get(k)]
        if differ:
            raise ValueError(f"{folders[0]} and {folder} are not one architecture: they differ in "
                             + ", ".join(f"{k} ({configs[0].get(k)!r} vs {cfg.get(k)!r})" for k in differ))
    tokenizers = {f: _vocabulary(f / "tokenizer.json") for f in folders if (f / "tokenizer.json").is_file()}
    if len({json.dumps(v, sort_keys=True) for v in tokenizers.values()}) > 1:
        raise ValueError("the models' tokenizers differ (tokenizer.json's vocabulary, merges or added tokens): "
                         "their token ids do not mean the same thing, so their weights cannot be merged "
                         f"({', '.join(map(str, tokenizers))})")
    return configs[0]


def _vocabulary(path: Path) -> dict:
    """What token ids mean in a tokenizer.json (a re-saved tokenizer may differ in layout, not in this)."""
    t = json.loads(path.read_text())
    return {"model": t.get("model"), "added": [(a.get("id"), a.get("content")) for a in t.get("added_tokens", [])]}


class Weights:
    """The tensors of a safetensors folder (one file or shards), read one at a time."""

    def __init__(self, folder: Path):
        from safetensors import safe_open

        files = sorted(Path(folder).glob("*.safetensors"))
        if not files:
            raise FileNotFoundError(f"{folder}: no .safetensors weights")
        self.handles = [safe_open(str(f), framework="pt") for f in files]
        self.where = {k: h for h in self.handles for k in h.keys()}

    def keys(self) -> list[str]:
        return sorted(self.where)

    def get(self, key: str):
        return self.where[key].get_tensor(key)


def combine(folders: list[Path], coefs: list[float], out: Path) -> dict:
    """Write sum_j coefs[j] x weights of folders[j] to `out` (safetensors shards, the first model's
    config and tokenizer files); returns what was merged."""
    import torch
    from safetensors.torch import save_file

    if len(folders) != len(coefs):
        raise ValueError(f"{len(coefs)} coefficients for {len(folders)} models")
    check_architecture(folders)
    weights = [Weights(f) for f in folders]
    keys = weights[0].keys()
    for f, w in zip(folders[1:], weights[1:]):
        if w.keys() != keys:
            extra, missing = sorted(set(w.keys()) - set(keys)), sorted(set(keys) - set(w.keys()))
            raise ValueError(f"{f} has other tensors than {folders[0]}: extra {extra[:5]}, missing {missing[:5]}")
    out.mkdir(parents=True, exist_ok=True)
    shards: list[dict] = [{}]
    size, copied = 0, 0
    for key in keys:
        tensors = [w.get(key) for w in weights]
        shapes = {tuple(t.shape) for t in tensors}
        if len(shapes) > 1:
            raise ValueError(f"tensor {key} has shapes {sorted(shapes)} in the models")
        if tensors[0].is_floating_point():
            acc = torch.zeros(tensors[0].shape, dtype=torch.float64)
            for c, t in zip(coefs, tensors):
                acc.add_(t.to(torch.float64), alpha=c)
            merged = acc.to(tensors[0].dtype)
        else:
            if any(not torch.equal(tensors[0], t) for t in tensors[1:]):
                raise ValueError(f"tensor {key} ({tensors[0].dtype}) differs between the models and is not "
                                 "floating point: it cannot be merged")
            merged, copied = tensors[0], copied + 1
        nbytes = merged.numel() * merged.element_size()
        if shards[-1] and size + nbytes > SHARD_BYTES:
            shards.append({})
            size = 0
        shards[-1][key] = merged.contiguous()
        size += nbytes
    names = ["model.safetensors"] if len(shards) == 1 else \
        [f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))]
    for name, part in zip(names, shards):
        save_file(part, str(out / name), metadata={"format": "pt"})
    if len(shards) > 1:
        index = {"metadata": {}, "weight_map": {k: n for n, part in zip(names, shards) for k in part}}
        (out / "model.safetensors.index.json").write_text(json.dumps(index, indent=1))
    for name in ("config.json",) + TOKENIZER_FILES:
        if (folders[0] / name).is_file():
            shutil.copy2(folders[0] / name, out / name)
    return {"tensors": len(keys), "copied_unmerged": copied, "shards": len(shards),
            "parameters": sum(t.numel() for part in shards for t in part.values())}
