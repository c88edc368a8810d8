"""SFT: assistant-token masks from the chat template, packing that never lets a label cross samples,
document-masked packed training equal to unpacked training, and the sft stage end to end (DeepSpeed
on gloo): killed by SIGKILL it resumes with the losses of an uninterrupted run, every epoch is
evaluated, the best one is a model version that transformers loads with our logits; bad inputs
fail before training."""
import json
import shutil

import numpy as np
import pyarrow as pa
import pytest
import torch

from zhinao.tasks.eval.stage import EvalParams
from zhinao.tasks.sft.stage import SFT, SFTParams
from zhinao.flows.stage import execute_stage
from zhinao.model.config import preset
from zhinao.model.hf import export_hf, import_hf
from zhinao.model.launch import TrainingFailed
from zhinao.model.metrics import read_metrics
from zhinao.model.train import KILL_AT_STEP
from zhinao.model.transformer import Transformer
from zhinao.tasks.corpus.chats import sample_chats
from zhinao.tasks.sft.pack import IGNORE, Sample, dynamic_padding_share, pack
from zhinao.tasks.sft.render import ChatRenderer, TemplateError, problem
from zhinao.tasks.home import open_store

CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+2? 你好"},
        {"role": "assistant", "content": "It is 4. 四 "}, {"role": "user", "content": "And 3+3?"},
        {"role": "assistant", "content": "6"}]


@pytest.fixture(scope="module")
def chat_model(tmp_path_factory):
    """A fresh tiny model with the tokenizer stage's BPE and ChatML template (untrained: SFT's
    mechanics do not need a pretrained one)."""
    from zhinao.tasks.corpus.labelled import labelled_articles
    from zhinao.tasks.tokenizer.bpe import save_tokenizer, train_bpe

    root = tmp_path_factory.mktemp("sft-model")
    tok = save_tokenizer(train_bpe([r["text"] for r in labelled_articles(3)], 1500), root / "tokenizer")
    torch.manual_seed(0)
    return export_hf(Transformer(preset("tiny", vocab_size=1536)), root / "tiny", tok)


def _synthetic(lengths: list[int], seed: int = 0) -> list[Sample]:
    """Sample k's ids run 1000k, 1000k+1, ...: every token names its sample and its position."""
    rng = np.random.default_rng(seed)
    out = []
    for k, n in enumerate(lengths):
        trained = rng.random(n) < 0.5
        trained[-1] = True
        out.append(Sample(np.arange(1000 * (k + 1), 1000 * (k + 1) + n, dtype=np.int32), trained))
    return out


def test_chat_rendering_masks_exactly_the_assistant_turns(chat_model):
    renderer = ChatRenderer.from_folder(chat_model)
    ids, trained = renderer.encode(CHAT)
    text = renderer.tok.apply_chat_template(CHAT, tokenize=False)
    assert ids.tolist() == renderer.tok(text, add_special_tokens=False)["input_ids"]     # the template's tokens
    runs = np.split(np.flatnonzero(trained), np.flatnonzero(np.diff(np.flatnonzero(trained)) > 1) + 1)
    assert [renderer.tok.decode(ids[r]) for r in runs] == ["It is 4. 四 <|im_end|>", "6<|im_end|>"]
    im_end = renderer.tok.convert_tokens_to_ids("<|im_end|>")
    assert renderer.turn_end_ids() == [im_end]
    assert problem(CHAT) is None and problem(CHAT[:-1]) == "last_turn_not_assistant"
    assert problem([CHAT[0], CHAT[2]]) == "no_user_turn" and problem([{"role": "tool", "content": "x"}]) == "unknown_role"
    assert problem([CHAT[2], CHAT[1], CHAT[2]]) == "assistant_before_user"

    unstable = ChatRenderer(renderer.tok)
    unstable.tok = renderer.tok.__class__.from_pretrained(str(chat_model))
    unstable.tok.chat_template = "{{ messages | length }}" + renderer.tok.chat_template      # prefixes change
    with pytest.raises(TemplateError, match="does not render a conversation as the concatenation"):
        unstable.encode(CHAT)
    bare = renderer.tok.__class__.from_pretrained(str(chat_model))
    bare.chat_template = None
    with pytest.raises(TemplateError, match="has no chat template"):
        ChatRenderer(bare)


@pytest.mark.parametrize("mode", ["naive", "document", "none"])
def test_packing_never_lets_a_label_cross_samples(mode):
    lengths = [37, 5, 64, 80, 12, 29, 50, 3, 64]
    samples = _synthetic(lengths)
    packed = pack(samples, 64, mode, pad_id=0, seed=1, overlong="truncate")
    a = packed.arrays
    assert packed.truncated == 1 and packed.samples == 9       # the 80-token sample was cut to 64
    kept = [Sample(s.ids[:64], s.trained[:64]) for s in samples]
    tokens, targets = a["tokens"], a["targets"]
    flat_tokens, flat_targets = tokens.reshape(-1), targets.reshape(-1)
    if mode == "naive":
        # rows are cut from one stream: a target may follow its token into the next row
        at = np.flatnonzero(flat_targets != IGNORE)
        nxt = at + 1
    else:
        rows, cols = np.nonzero(targets != IGNORE)
        assert (cols < 63).all()                             # a whole sample per row: the next token is in it
        at, nxt = rows * 64 + cols, rows * 64 + cols + 1
    src, tgt = flat_tokens[at], flat_targets[at]
    assert (src // 1000 == tgt // 1000).all()                # a target is always its own sample's token ...
    assert (tgt == src + 1).all() and (flat_tokens[nxt] == tgt).all()     # ... the next one, and ...
    for k, s in enumerate(kept, start=1):                    # ... every assistant token, exactly once
        mine = np.sort(tgt[tgt // 1000 == k])
        assert mine.tolist() == s.ids[1:][s.trained[1:]].tolist()
    if mode == "document":
        real = a["docs"] > 0
        base = tokens // 1000 * 1000
        assert (a["positions"][real] == (tokens - base)[real]).all()     # positions restart per sample
        for row_tokens, row_docs in zip(tokens, a["docs"]):
            for d in set(row_docs[row_docs > 0].tolist()):
                assert len(set((row_tokens[row_docs == d] // 1000).tolist())) == 1
    share = packed.stats()["non_padding_share"]
    assert share == pytest.approx(sum(min(n, 64) for n in lengths) / tokens.size)
    dropped = pack(samples, 64, mode, overlong="drop")
    assert dropped.dropped == {"longer_than_max_len": 1} and dropped.samples == 8


def test_packing_shares_and_best_fit():
    samples = _synthetic([40, 30, 40, 30, 40])
    shares = {m: pack(samples, 64, m).stats()["non_padding_share"] for m in ("naive", "document", "none")}
    assert shares == pytest.approx({"naive": 180 / 192, "document": 180 / 256, "none": 180 / 320})
    assert sorted((pack(samples, 64, "document").arrays["docs"] > 0).sum(axis=1).tolist()) == [40, 40, 40, 60]
    assert dynamic_padding_share(samples, 5, 64) == pytest.approx(180 / 200)     # one batch, padded to its longest
    with pytest.raises(ValueError, match="packing 'tight'"):
        pack(samples, 64, "tight")


def test_document_masked_logits_of_a_sample_do_not_depend_on_the_others():
    torch.manual_seed(0)
    model = Transformer(preset("tiny")).eval()
    a, b = torch.randint(0, 4096, (9,)), torch.randint(0, 4096, (7,))
    other = torch.randint(0, 4096, (9,))
    positions = torch.cat([torch.arange(9), torch.arange(7)])[None]
    docs = torch.tensor([[1] * 9 + [2] * 7])
    with torch.no_grad():
        masked = [model(torch.cat([x, b])[None], positions=positions, doc_ids=docs)[0, 9:] for x in (a, other)]
        naive = [model(torch.cat([x, b])[None])[0, 9:] for x in (a, other)]
        alone = model(b[None])[0]
    assert torch.allclose(masked[0], masked[1], atol=1e-6) and torch.allclose(masked[0], alone, atol=1e-5)
    assert (naive[0] - naive[1]).abs().max() > 1e-2          # without the mask, A's tokens reach B


def test_document_masked_packed_training_matches_unpacked_training(chat_model, monkeypatch):
    """Same samples, same weights: the packed batch's loss and gradient step equal the unpacked
    (one sample per row) batch's; the Triton RoPE kernel takes per-row positions as the reference."""
    renderer = ChatRenderer.from_folder(chat_model)
    short = [[m for m in r["messages"] if m["role"] == "user"][:1] + [{"role": "assistant", "content": line}]
             for r in sample_chats(1)[:10] for line in [r["messages"][-1]["content"].split("\n")[0][:100]]]
    samples = [Sample(*renderer.encode(m)) for m in short]
    packed, unpacked = (pack(samples, 256, mode, renderer.pad_id) for mode in ("document", "none"))
    assert packed.rows < unpacked.rows and packed.samples == unpacked.samples == 10
    models = [import_hf(chat_model), import_hf(chat_model)]

    def batch(p, with_docs):
        a = {k: torch.from_numpy(v.astype(np.int64)) for k, v in p.training_arrays().items()}
        return (a["tokens"], a["targets"]) + ((a["positions"], a["docs"]) if with_docs else ())

    inputs = [batch(packed, True), batch(unpacked, False)]
    losses, grads, after = [], [], []
    for model, args in zip(models, inputs):
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
        loss = model(*args)[1]
        loss.backward()
        grads.append({name: p.grad.clone() for name, p in model.named_parameters()})
        opt.step()
        losses.append(loss.item())
        with torch.no_grad():
            after.append(model(*args)[1].item())
    assert losses[0] == pytest.approx(losses[1], rel=1e-5) and after[0] == pytest.approx(after[1], rel=1e-4)
    assert after[0] < losses[0] - 0.05
    for name, g in grads[0].items():     # (AdamW's first step is sign-like: compare what it is fed)
        assert g.abs().sum() > 0 and torch.allclose(g, grads[1][name], rtol=1e-4, atol=1e-8), name

    from zhinao.kernels.rope import rope, rope_ref
    from zhinao.model.transformer import rope_tables

    monkeypatch.setenv("ZHINAO_KERNELS", "triton")
    cos, sin = rope_tables(32, 64, 1e4)
    pos = torch.tensor([[0, 1, 2, 0, 1, 0, 1, 2, 3], [5, 6, 0, 1, 2, 3, 0, 0, 1]])
    x = torch.randn(2, 4, 9, 32, requires_grad=True)
    ours, ref = rope(x, cos[pos], sin[pos]), rope_ref(x, cos[pos], sin[pos])
    assert torch.allclose(ours, ref, atol=1e-6)
    g = torch.randn_like(ours)
    assert torch.allclose(torch.autograd.grad(ours, x, g)[0], torch.autograd.grad(ref, x, g)[0], atol=1e-6)


RUN = dict(use_ray=False, max_len=128, batch_size=4, micro_batch=4, epochs=2, lr=2e-3, checkpoint_every=4,
           evaluation=EvalParams(tasks=["perplexity", "ifeval"], limit=2, max_tokens=16), valid_fraction=0.1)


def _chat_data() -> str:
    return open_store().import_tables("sft-data", [pa.Table.from_pylist(sample_chats(1))]).ref


def test_sft_stage_resumes_a_killed_run_and_commits_the_best_epoch(chat_model, monkeypatch, tmp_path):
    params = SFTParams(model=str(chat_model), data="sft-data", **RUN)
    _chat_data()
    monkeypatch.setenv(KILL_AT_STEP, "5")              # rank 0 gets SIGKILL after step 5 (checkpoint at 4)
    with pytest.raises(TrainingFailed, match="killed by SIGKILL"):
        execute_stage(SFT, params)
    resumed = execute_stage(SFT, params)                # the retry: same version, same work folder
    monkeypatch.delenv(KILL_AT_STEP)
    store = open_store()
    folder = store.model_path(resumed.ref)
    state = json.loads((folder / "trainer_state.json").read_text())
    assert state["resumed_from_step"] == 4

    monkeypatch.setenv("ZHINAO_HOME", str(tmp_path / "other"))     # the same training, uninterrupted
    _chat_data()
    quick = params.model_copy(update={"evaluation": EvalParams(tasks=[])})      # (its evals: skipped)
    clean = execute_stage(SFT, quick)
    rows, reference = read_metrics(folder / "metrics.jsonl"), read_metrics(open_store().model_path(clean.ref) / "metrics.jsonl")
    steps = state["steps"]
    assert [r["step"] for r in rows] == list(range(1, steps + 1))
    assert [r["loss"] for r in rows] == pytest.approx([r["loss"] for r in reference], rel=1e-6)
    assert [r["grad_norm"] for r in rows] == pytest.approx([r["grad_norm"] for r in reference], rel=1e-5)
    assert [r.get("valid_loss") for r in rows if "epoch" in r] == \
        pytest.approx([r.get("valid_loss") for r in reference if "epoch" in r], rel=1e-6)

    # every epoch scored; the version is the best one by held-out assistant-token loss
    epochs = state["epochs"]
    assert [e["epoch"] for e in epochs] == [1, 2] and [r["epoch"] for r in rows if "epoch" in r] == [1, 2]
    assert all({"valid_loss", "perplexity", "ifeval"} <= set(e) for e in epochs)
    assert state["best_epoch"] == min(epochs, key=lambda e: e["valid_loss"])["epoch"]
    assert epochs[1]["valid_loss"] < epochs[0]["valid_loss"]
    first, last = np.mean([r["loss"] for r in rows[:2]]), np.mean([r["loss"] for r in rows[-2:]])
    assert last < first - 0.3, (first, last)
    assert {"loss.png", "epochs.png", "packing.json", "eval/epoch-001.json", "eval/epoch-002.json",
            "generation_config.json", "chat_template.jinja"} <= {str(p.relative_to(folder)) for p in folder.rglob("*")}
    assert resumed.stats["counters"]["best_epoch"] == state["best_epoch"]
    assert resumed.stats["tables"]["packing"][0]["non_padding_share"] > 0.9

    from transformers import AutoModelForCausalLM, AutoTokenizer

    hf = AutoModelForCausalLM.from_pretrained(folder).eval()
    tok = AutoTokenizer.from_pretrained(folder)
    assert tok.chat_template == ChatRenderer.from_folder(chat_model).tok.chat_template
    assert tok.convert_tokens_to_ids("<|im_end|>") in hf.generation_config.eos_token_id
    ids = torch.tensor([tok(tok.apply_chat_template(CHAT, tokenize=False), add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        assert torch.allclose(hf(ids).logits, import_hf(folder).eval()(ids), atol=1e-4)
    assert execute_stage(SFT, quick).cache_hit


def test_bad_inputs_fail_before_training(chat_model, tmp_path):
    store = open_store()
    chats = _chat_data()
    base = dict(model=str(chat_model), use_ray=False)
    docs = store.import_tables("docs", [pa.table({"id": ["a"], "text": ["hello"]})]).ref
    with pytest.raises(ValueError, match="has no `messages` column"):
        execute_stage(SFT, SFTParams(data=docs, **base))
    empty = store.import_tables("empty-chats", [pa.Table.from_pylist(sample_chats(1)).slice(0, 0)]).ref
    with pytest.raises(ValueError, match="has no rows"):
        execute_stage(SFT, SFTParams(data=empty, **base))
    with pytest.raises(ValueError, match="not a multiple of micro_batch 4"):
        execute_stage(SFT, SFTParams(data=chats, batch_size=6, micro_batch=4, **base))
    with pytest.raises(ValueError, match="select_metric 'gsm8k'"):
        execute_stage(SFT, SFTParams(data=chats, select_metric="gsm8k", **base))
    with pytest.raises(ValueError, match="longer than the model's max_seq_len 256"):
        execute_stage(SFT, SFTParams(data=chats, recipe="seed", **base))       # the seed's 8192 tokens
    with pytest.raises(FileNotFoundError, match="neither"):
        execute_stage(SFT, SFTParams(data=chats, model="no-such-model", use_ray=False))
    bare = shutil.copytree(chat_model, tmp_path / "bare")
    (bare / "chat_template.jinja").unlink()
    config = json.loads((bare / "tokenizer_config.json").read_text())
    config.pop("chat_template")
    (bare / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(TemplateError, match="has no chat template"):
        execute_stage(SFT, SFTParams(data=chats, model=str(bare), use_ray=False))
    unusable = [{**r, "messages": r["messages"][:1]} for r in sample_chats(1)]     # no assistant turn
    bad = store.import_tables("bad-chats", [pa.Table.from_pylist(unusable)]).ref
    with pytest.raises(ValueError, match="no trainable samples"):
        execute_stage(SFT, SFTParams(data=bad, **base))
    assert not store.catalog.find("sft")
    seed = SFTParams(recipe="seed")
    assert (seed.max_len, seed.lr, seed.batch_size, seed.weight_decay, seed.epochs) == (8192, 1e-5, 128, 0.1, 6)
    assert SFTParams(recipe="seed", lr=3e-5).lr == 3e-5
