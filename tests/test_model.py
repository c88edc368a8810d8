"""The GQA transformer: shapes and presets, causality, learning, and a Hugging Face Llama export that
transformers loads with the same logits (and that imports back)."""
import json

import pytest
import torch

from zhinao.model.config import ModelConfig, preset
from zhinao.model.hf import config_from_hf, export_hf, import_hf
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


def test_the_rope_base_is_written_and_read_the_way_transformers_reads_it(tmp_path):
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    cfg = preset("tiny", rope_base=5e7, max_seq_len=2048)
    folder = export_hf(Transformer(cfg), tmp_path / "hf")
    raw = json.loads((folder / "config.json").read_text())
    assert raw["rope_parameters"] == {"rope_type": "default", "rope_theta": 5e7}
    assert raw["max_position_embeddings"] == 2048 and "rope_theta" not in raw
    theirs = LlamaConfig.from_pretrained(folder)
    inv_freq = LlamaRotaryEmbedding(theirs).inv_freq
    expected = 1.0 / 5e7 ** (torch.arange(0, cfg.head_dim, 2, dtype=torch.float64) / cfg.head_dim)
    assert torch.allclose(inv_freq.double(), expected, rtol=1e-6)
    assert config_from_hf(folder).rope_base == 5e7 and config_from_hf(folder).max_seq_len == 2048
    # a stale top-level value (a config edited for a longer context by hand) is refused, not used
    (folder / "config.json").write_text(json.dumps(raw | {"rope_theta": 10_000.0}))
    assert LlamaConfig.from_pretrained(folder).rope_parameters["rope_theta"] == 5e7
    with pytest.raises(ValueError, match="rope_theta 10000 at the top and 5e[+]07 in rope_parameters"):
        config_from_hf(folder)
    # an older file (top level only) still reads; a scaled RoPE is refused
    (folder / "config.json").write_text(json.dumps({k: v for k, v in raw.items() if k != "rope_parameters"}
                                                   | {"rope_theta": 1e6}))
    assert config_from_hf(folder).rope_base == 1e6
    (folder / "config.json").write_text(json.dumps(raw | {"rope_parameters": {"rope_type": "yarn", "factor": 4.0,
                                                                              "rope_theta": 1e4}}))
    with pytest.raises(ValueError, match="rope_type 'yarn' is not supported"):
        config_from_hf(folder)
