"""The GQA transformer: shapes and presets, causality, learning, and a Hugging Face Llama export that
transformers loads with the same logits (and that imports back)."""
import json

import pytest
import torch

from zhinao.model.config import ModelConfig, preset
from zhinao.model.hf import export_hf, import_hf
from zhinao.model.transformer import Transformer


def test_presets_from_tiny_to_the_7b_shape():
    tiny = preset("tiny")
    assert 1e6 <= tiny.num_params() <= 10e6 and tiny.n_kv_heads < tiny.n_heads
    big = preset("7b")
    assert (big.dim, big.n_layers, big.n_heads, big.ffn_dim) == (4096, 32, 32, 11008)   # 8/3 * dim, to 256
    assert 6.5e9 < big.num_params() < 7.5e9
    assert preset("7b", n_kv_heads=4).n_kv_heads == 4
    assert sum(p.numel() for p in Transformer(tiny).parameters()) == tiny.num_params()
    with pytest.raises(ValueError, match="not a multiple of n_kv_heads"):
        ModelConfig(dim=128, n_heads=4, n_kv_heads=3)
    with pytest.raises(ValueError, match="unknown model preset"):
        preset("13b")


def test_forward_is_causal_and_learns():
    torch.manual_seed(0)
    model = Transformer(preset("tiny"))
    x = torch.randint(0, 4096, (2, 32))
    logits, loss = model(x[:, :-1], x[:, 1:])
    assert logits.shape == (2, 31, 4096) and abs(loss.item() - torch.log(torch.tensor(4096.0)).item()) < 0.5
    changed = x.clone()
    changed[:, 20:] = (changed[:, 20:] + 1) % 4096
    with torch.no_grad():
        assert torch.allclose(model(x)[:, :20], model(changed)[:, :20], atol=1e-6)   # the future is not seen
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for _ in range(30):
        _, loss = model(x[:, :-1], x[:, 1:])
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first / 3
    with pytest.raises(ValueError, match="longer than max_seq_len"):
        model(torch.zeros(1, 257, dtype=torch.long))


def test_hf_export_loads_in_transformers_with_matching_logits(tmp_path):
    from transformers import LlamaForCausalLM

    torch.manual_seed(1)
    model = Transformer(preset("tiny", rope_base=1e6)).eval()
    folder = export_hf(model, tmp_path / "hf")
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "llama" and config["num_key_value_heads"] == 2
    hf = LlamaForCausalLM.from_pretrained(folder).eval()
    x = torch.randint(0, 4096, (2, 48))
    with torch.no_grad():
        ours, theirs = model(x), hf(x).logits
        assert torch.allclose(ours, theirs, atol=1e-4), (ours - theirs).abs().max()
        back = import_hf(folder)
        assert back.cfg.rope_base == 1e6 and torch.equal(back(x), ours)
    (folder / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="no .safetensors"):
        import_hf(folder)
