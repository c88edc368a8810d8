"""merge: interpolation, task arithmetic and extrapolation against their definitions, on small
random Llama folders; the stage as a model version whose parents are the models merged."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from zhinao.tasks.align.merge import coefficients, combine


def tiny_llama(folder: Path, seed: int, **overrides) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32, **overrides)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    return folder


def weights(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    root = tmp_path_factory.mktemp("merge")
    return [tiny_llama(root / name, seed) for name, seed in (("a", 1), ("b", 2), ("sft", 3))]


def test_each_method_is_its_definition(three, tmp_path):
    a, b, base = three
    wa, wb, w0 = weights(a), weights(b), weights(base)
    cases = {
        "interpolate": (([a, b], *coefficients("interpolate", 2, [0.3, 0.7])),
                        lambda k: 0.3 * wa[k].double() + 0.7 * wb[k].double()),
        "task_arithmetic": (([a, b], *coefficients("task_arithmetic", 2, [0.5, 0.8])),
                            lambda k: w0[k].double() + 0.5 * (wa[k].double() - w0[k].double())
                            + 0.8 * (wb[k].double() - w0[k].double())),
        "extrapolate": (([a], *coefficients("extrapolate", 1, alpha=0.2)),
                        lambda k: wa[k].double() + 0.2 * (wa[k].double() - w0[k].double())),
    }
    for method, ((models, coefs, base_coef), want) in cases.items():
        folders = models + ([base] if base_coef else [])
        out = tmp_path / method
        info = combine(folders, coefs + ([base_coef] if base_coef else []), out)
        got = weights(out)
        assert set(got) == set(wa) and info["tensors"] == len(wa)
        for k in wa:
            assert got[k].dtype == wa[k].dtype
            torch.testing.assert_close(got[k].double(), want(k), rtol=0, atol=1e-6, msg=f"{method} {k}")
        assert json.loads((out / "config.json").read_text())["hidden_size"] == 16


def test_identities_are_exact(three, tmp_path):
    a, _, base = three
    combine([a, a], coefficients("interpolate", 2)[0], tmp_path / "self")
    combine([a, base], [*coefficients("extrapolate", 1, alpha=0.0)[0], 0.0], tmp_path / "zero")
    combine([a, base], [0.0, 1.0], tmp_path / "to-base")
    for name, want in (("self", a), ("zero", a), ("to-base", base)):
        got, ref = weights(tmp_path / name), weights(want)
        assert all(torch.equal(got[k], ref[k]) for k in ref), name


def test_merged_folder_loads_and_scores_like_its_weights(three, tmp_path):
    from transformers import AutoModelForCausalLM

    a, b, _ = three
    combine([a, b], [0.5, 0.5], tmp_path / "m")
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "m")
    ma, mb = AutoModelForCausalLM.from_pretrained(a), AutoModelForCausalLM.from_pretrained(b)
    ref = AutoModelForCausalLM.from_pretrained(a)
    with torch.no_grad():
        for p, pa, pb in zip(ref.parameters(), ma.parameters(), mb.parameters()):
            p.copy_(0.5 * pa + 0.5 * pb)
        ids = torch.tensor([[1, 5, 9, 13]])
        torch.testing.assert_close(merged(ids).logits, ref(ids).logits)


def test_bad_merges_fail_with_what_is_wrong(three, tmp_path):
    a, b, _ = three
    other = tiny_llama(tmp_path / "wide", 4, head_dim=8)
    with pytest.raises(ValueError, match="not one architecture.*head_dim"):
        combine([a, other], [0.5, 0.5], tmp_path / "x")
    with pytest.raises(ValueError, match="sum to 1"):
        coefficients("interpolate", 2, [0.5, 0.6])
    with pytest.raises(ValueError, match="one model, a base and alpha"):
        coefficients("extrapolate", 2, alpha=0.2)
    with pytest.raises(ValueError, match="2 weights for 3 models"):
        coefficients("task_arithmetic", 3, [1.0, 1.0])
    with pytest.raises(FileNotFoundError, match="not a Hugging Face model folder"):
        combine([a, tmp_path], [0.5, 0.5], tmp_path / "y")


def test_stage_makes_a_model_version_with_the_merged_models_as_parents(three):
    from zhinao.tasks.align.merge_stage import MERGE, MergeParams
    from zhinao.flows.stage import execute_stage
    from zhinao.tasks.home import open_store

    a, b, base = three
    store = open_store()
    refs = [store.import_model(name, f, stage="import").ref for name, f in (("dpo", a), ("grpo", b), ("sft", base))]
    params = MergeParams(method="task_arithmetic", models=refs[:2], weights=[0.5, 0.5], base=refs[2])
    first = execute_stage(MERGE, params, store=store)
    assert first.kind == "model" and not first.cache_hit
    assert first.stats["counters"]["tensors"] == len(weights(a))
    assert store.resolve(first.ref).parents == refs
    again = execute_stage(MERGE, params, store=store)
    assert again.cache_hit and again.version == first.version
    other = execute_stage(MERGE, params.model_copy(update={"weights": [0.5, 0.4]}), store=store)
    assert other.version != first.version
    swapped = execute_stage(MERGE, params.model_copy(update={"models": refs[1::-1]}), store=store)
    assert swapped.version != first.version          # which model gets which weight is in the key
    want = {k: w0 + 0.5 * (wa - w0) + 0.5 * (wb - w0) for (k, wa), wb, w0 in
            zip(weights(a).items(), weights(b).values(), weights(base).values())}
    got = weights(store.model_path(first.ref))
    for k, v in want.items():
        torch.testing.assert_close(got[k], v, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="needs a base"):
        MergeParams(method="extrapolate", models=refs[:1], alpha=0.2)


def _adapter(base: Path, out: Path, seed: int, r: int = 4, alpha: int = 8) -> Path:
    """A LoRA adapter with random A and B (B is zero at PEFT's init, so nothing would show)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                           LoraConfig(r=r, lora_alpha=alpha, target_modules=["q_proj", "down_proj"]))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.normal_(0, 0.5)
    model.save_pretrained(out)
    return out


def test_adapters_merge_into_full_weights_as_base_plus_weighted_deltas(three, tmp_path):
    from safetensors.torch import load_file

    from zhinao.tasks.align.lora_merge import merge_adapters

    base = three[0]
    adapters = [_adapter(base, tmp_path / f"ad{i}", seed=i) for i in range(2)]
    merge_adapters(base, adapters, [0.5, 2.0], tmp_path / "out")
    got, w0 = weights(tmp_path / "out"), weights(base)
    for layer in ("model.layers.0.self_attn.q_proj.weight", "model.layers.1.mlp.down_proj.weight"):
        delta = torch.zeros_like(w0[layer], dtype=torch.float64)
        for w, a in zip((0.5, 2.0), adapters):
            ad = load_file(str(a / "adapter_model.safetensors"))
            key = "base_model.model." + layer.rsplit(".weight", 1)[0]
            delta += w * (ad[f"{key}.lora_B.weight"].double() @ ad[f"{key}.lora_A.weight"].double()) * (8 / 4)
        torch.testing.assert_close(got[layer].double(), w0[layer].double() + delta, rtol=0, atol=1e-5)
    untouched = "model.layers.0.mlp.up_proj.weight"
    assert torch.equal(got[untouched], w0[untouched])
