"""TRL's fused LM head on CPU, made to project only the labelled positions (zhinao/tasks/align/lm_head.py):
it then projects fewer rows, and gives the same log-probabilities and gradients as the full head."""
from __future__ import annotations

import pytest
import torch
import trl.trainer.utils as utils
from transformers import LlamaConfig, LlamaForCausalLM
from trl.kernels import chunked_logprob
from trl.trainer.utils import add_fused_lm_head

from zhinao.tasks.align.lm_head import compact_on_cpu


def _model() -> LlamaForCausalLM:
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    model = LlamaForCausalLM(cfg)
    add_fused_lm_head(model)
    return model


def _run(model, rows_seen: list[int]):
    """Log-probs and the LM head's and first layer's gradients for a padded batch whose prompts and
    padding are -100, as DPO's and GRPO's are."""
    ids = torch.randint(0, 97, (3, 12))
    attn = torch.ones_like(ids)
    attn[1, 9:] = 0
    attn[2, 6:] = 0
    labels = ids.masked_fill(attn == 0, -100)
    labels[:, :4] = -100                                  # the prompt
    model.zero_grad()
    out = model(input_ids=ids, attention_mask=attn, labels=labels, fused_lm_head=True)
    out.log_probs.sum().backward()
    grads = [model.lm_head.weight.grad.clone(), model.model.layers[0].mlp.up_proj.weight.grad.clone()]
    return out.log_probs.detach(), grads, (labels[:, 1:] != -100).sum().item(), rows_seen[-1]


@pytest.fixture
def projected_rows(monkeypatch):
    """The number of rows each call hands the chunked log-prob function (restored after the test)."""
    seen: list[int] = []
    apply = utils._ChunkedLogProbFunction.apply

    def counting(hidden, *args):
        seen.append(hidden.shape[0])
        return apply(hidden, *args)

    monkeypatch.setattr(utils._ChunkedLogProbFunction, "apply", counting)
    # TRL's own choice (another test's trainer in this process may have patched it), undone at teardown
    monkeypatch.setattr(utils, "_use_triton", chunked_logprob._use_triton)
    return seen


def test_compact_head_projects_only_labelled_positions_with_the_same_results(projected_rows):
    torch.manual_seed(1)
    full_lp, full_grads, labelled, full_rows = _run(_model(), projected_rows)
    assert full_rows == 3 * 11                            # TRL on CPU: every position

    assert compact_on_cpu()
    torch.manual_seed(1)
    lp, grads, _, rows = _run(_model(), projected_rows)
    assert rows == labelled < full_rows
    torch.testing.assert_close(lp, full_lp, rtol=1e-5, atol=1e-6)
    assert (lp[full_lp == 0] == 0).all()
    for g, ref in zip(grads, full_grads):
        torch.testing.assert_close(g, ref, rtol=1e-4, atol=1e-6)


def test_an_unknown_trl_version_is_left_alone(monkeypatch, projected_rows, caplog):
    import trl

    before = utils._use_triton
    monkeypatch.setattr(trl, "__version__", "9.0.0")
    assert not compact_on_cpu()
    assert utils._use_triton is before
    assert "9.0.0" in caplog.text
