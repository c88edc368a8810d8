"""Long-context extension: long-data joins documents by topic and mixes a stated chat share; a
phase's samples cover every token of a long document (or keep its ending as the answer); the
training ranks with a sequence split over 2 ranks (ring under ZeRO-3 with offload, activation
checkpointing and the chunked loss; Ulysses) give one rank's losses; a long-phase run killed by SIGKILL resumes
with the losses of an uninterrupted one, and its model carries the new RoPE base and limit the
way transformers reads them; the long-context pipeline extends a model in two phases with lineage
and evaluates each at the lengths it reaches."""
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch

from zhinao.flows.stage import execute_stage
from zhinao.model.launch import TrainingFailed, launch
from zhinao.model.metrics import read_metrics
from zhinao.model.packed import write_packed
from zhinao.model.train import KILL_AT_STEP
from zhinao.model.train_spec import TrainSpec
from zhinao.tasks.corpus.chats import sample_chats
from zhinao.tasks.corpus.labelled import labelled_articles
from zhinao.tasks.home import open_store
from zhinao.tasks.longctx.samples import long_samples
from zhinao.tasks.longctx.stage import LONG_PHASE, LongPhaseParams
from zhinao.tasks.longdata.build import chat_count
from zhinao.tasks.longdata.stage import LONG_DATA, LongDataParams
from zhinao.tasks.sft.render import ChatRenderer


def _documents(store, long_text: str | None = None) -> str:
    rows = [{"id": r["id"], "text": r["text"], "lang": r["lang"], "topic": r["truth"]} for r in labelled_articles(3)]
    if long_text:
        rows.append({"id": "long-one", "text": long_text, "lang": "en", "topic": rows[0]["topic"]})
    return store.import_tables("rebalance", [pa.Table.from_pylist(rows)]).ref


def _long_data(store, **params) -> str:
    store.import_tables("sft-data", [pa.Table.from_pylist(sample_chats(1))])
    return execute_stage(LONG_DATA, LongDataParams(use_ray=False, **params)).ref


def test_long_data_joins_documents_of_a_topic_and_mixes_a_chat_share():
    store = open_store()
    long_text = "A long article. " * 120
    _documents(store, long_text)
    ref = _long_data(store, min_chars=1000, chat_share=0.25)
    rows = store.open_arrow(ref).to_pylist()
    docs = {r["id"]: r for r in labelled_articles(3)}
    long_rows = [r for r in rows if r["kind"] == "long"]
    chats = [r for r in rows if r["kind"] == "chat"]
    assert all(r["chars"] >= 1000 and r["chars"] == len(r["text"]) and r["messages"] is None for r in long_rows)
    assert any(r["text"] == long_text.strip() and r["parts"] == 1 for r in long_rows)     # it stands alone
    joined = [r for r in long_rows if r["parts"] > 1]
    assert joined and any(r["group"].startswith("mixed/") for r in joined)
    for r in joined:      # every part of a joined sample is a whole document of the sample's topic and language
        found = [d for d in docs.values() if d["text"].strip() in r["text"]]
        assert len(found) == r["parts"] and {d["lang"] for d in found} == {r["lang"]}, r["group"]
        if not r["group"].startswith("mixed/"):
            assert {f"{d['truth']}/{d['lang']}" for d in found} == {r["group"]}
    assert len(chats) == chat_count(len(long_rows), 0.25) > 0
    assert all(c["messages"] and c["text"] is None for c in chats)
    stats = store.resolve(ref).stats
    used = sum(r["parts"] for r in long_rows) + stats["dropped"].get("left_short", 0)
    assert used == len(docs) + 1                  # every document is in a sample or counted as left short
    assert stats["counters"]["chat_samples"] == len(chats)
    again = execute_stage(LONG_DATA, LongDataParams(use_ray=False, min_chars=1000, chat_share=0.25))
    assert again.cache_hit and again.ref == ref


def test_a_long_document_is_trained_whole_in_pieces_or_as_its_ending(tiny_pretrained):
    renderer = ChatRenderer.from_folder(tiny_pretrained)
    text = " ".join(f"word{k}" for k in range(400)) + "\n\nThe very last passage."
    ids = renderer.tok(text, add_special_tokens=False)["input_ids"] + [renderer.tok.eos_token_id]
    for max_len in (128, len(ids) // 2 + 1, len(ids) - 1):       # the last: a one-token remainder
        pieces = long_samples(text, renderer, max_len, "all")
        assert all(len(p.ids) <= max_len and p.trained.all() for p in pieces)
        # consecutive pieces share one token, so every next-token target is trained exactly once
        assert all(a.ids[-1] == b.ids[0] for a, b in zip(pieces, pieces[1:]))
        assert (pieces[0].ids.tolist() + [t for p in pieces[1:] for t in p.ids[1:].tolist()]) == ids
        assert sum(int((p.targets() != -100).sum()) for p in pieces) == len(ids) - 1
    (chat,) = long_samples(text, renderer, 128, "assistant")
    answer = renderer.tok.decode(chat.ids[chat.trained])
    assert len(chat.ids) == 128 and "The very last passage." in answer and "word399" not in answer


def test_naive_packing_can_restart_positions_at_every_sample():
    from zhinao.tasks.sft.pack import IGNORE, Sample, pack

    # sample k's ids run 1000(k+1), 1000(k+1)+1, ...: each token names its position in its sample
    samples = [Sample(np.arange(1000 * (k + 1), 1000 * (k + 1) + n, dtype=np.int32), np.ones(n, dtype=bool))
               for k, n in enumerate([5, 40, 17, 64, 3])]
    packed = pack(samples, 32, "naive", reset_positions=True)
    a = packed.arrays
    real = a["real"]
    assert (a["positions"][real] == a["tokens"][real] % 1000).all() and "docs" not in a
    assert (a["targets"] != IGNORE).any(axis=1).all()
    assert "positions" not in pack(samples, 32, "naive").arrays          # SFT's default: positions continue

    # long-phase's naive packing: a whole-row piece keeps a row to itself, the rest are concatenated
    from zhinao.tasks.longctx.data import pack_long

    whole = [Sample(np.arange(7000 + 1000 * k, 7000 + 1000 * k + 32, dtype=np.int32), np.ones(32, dtype=bool))
             for k in range(2)]
    out = pack_long(samples + whole, 32, "naive", 0, 0, "truncate")
    rows = [r.tolist() for r in out.arrays["tokens"]]
    assert all(w.ids.tolist() in rows for w in whole) and out.samples == len(samples) + 2
    real = out.arrays["real"]
    assert (out.arrays["positions"][real] == out.arrays["tokens"][real] % 1000).all()


def _spec(root: Path, name: str, **extra) -> TrainSpec:
    work = root / name
    (work / "ck").mkdir(parents=True, exist_ok=True)
    return TrainSpec(data=str(root / "data"), out=str(work / "final"), checkpoints=str(work / "ck"), seq_len=128,
                     micro_batch=2, grad_accum=2, steps=2, source="packed", precision="fp32", max_lr=1e-3,
                     max_seq_len=256, rope_theta=1e5, checkpoint_every=2, **extra)


def test_a_sequence_split_over_two_ranks_trains_like_one_rank(tmp_path):
    """Random rows with targets missing at the start (a rank may hold few): the per-step losses,
    gradient norms and validation loss of 2 sequence-parallel ranks equal one rank's."""
    rng = np.random.default_rng(0)

    def rows(n):
        tokens = rng.integers(5, 4000, size=(n, 128))
        targets = np.roll(tokens, -1, axis=1)
        targets[:, -1], targets[:, :40] = -100, -100
        return {"tokens": tokens, "targets": targets}

    write_packed(tmp_path / "data", {"train": rows(8), "valid": rows(2)}, {"mode": "naive", "max_len": 128})
    runs = {"one": (1, {}),
            "ring": (2, dict(sp_size=2, sp_backend="ring", zero_stage=3, offload_optimizer=True, offload_params=True,
                             activation_checkpointing=True, loss_chunk=50)),
            "ulysses": (2, dict(sp_size=2, sp_backend="ulysses")),
            # 2 data-parallel groups of 2 sequence-parallel ranks against 2 data-parallel ranks
            "dp": (2, {}), "dp-sp": (4, dict(sp_size=2, sp_backend="ring"))}
    got = {}
    for name, (world, extra) in runs.items():
        spec = _spec(tmp_path, name, **extra)
        launch(spec.save(Path(spec.checkpoints) / "spec.json"), world)        # a failed rank raises
        got[name] = read_metrics(Path(spec.out) / "metrics.jsonl")
        config = json.loads((Path(spec.out) / "config.json").read_text())
        assert config["rope_parameters"]["rope_theta"] == 1e5 and config["max_position_embeddings"] == 256
        state = json.loads((Path(spec.out) / "trainer_state.json").read_text())
        assert state["sp_size"] == extra.get("sp_size", 1) and state["peak_mem_above_start_mib"] > 0
    assert got["one"][-1]["valid_loss"] is not None and got["dp"][0]["tokens"] == 2 * got["one"][0]["tokens"]
    for name, reference in (("ring", "one"), ("ulysses", "one"), ("dp-sp", "dp")):
        for key in ("loss", "grad_norm", "valid_loss", "tokens"):
            steps = [r["step"] for r in got[reference] if r.get(key) is not None]
            assert [r["step"] for r in got[name] if r.get(key) is not None] == steps, (name, key)
            assert [r[key] for r in got[name] if r["step"] in steps] == \
                pytest.approx([r[key] for r in got[reference] if r["step"] in steps], rel=1e-5), (name, key)


PHASE = dict(use_ray=False, max_len=384, rope_theta=1e5, batch_size=4, micro_batch=2, epochs=2, lr=1e-3,
             checkpoint_every=2, valid_fraction=0.1, world_size=2, sp_size=2)


def test_a_killed_long_phase_resumes_with_the_same_losses_and_exports_its_rope(tiny_pretrained, monkeypatch, tmp_path):
    store = open_store()
    model = store.import_model("chat-model", tiny_pretrained, stage="test").ref
    _documents(store)
    data = _long_data(store, min_chars=1500)
    params = LongPhaseParams(model=model, data=data, **PHASE)
    monkeypatch.setenv(KILL_AT_STEP, "3")                # rank 0 killed after step 3 (checkpoint at 2)
    with pytest.raises(TrainingFailed, match="SIGKILL"):
        execute_stage(LONG_PHASE, params)
    resumed = execute_stage(LONG_PHASE, params)
    monkeypatch.delenv(KILL_AT_STEP)
    folder = store.model_path(resumed.ref)
    state = json.loads((folder / "trainer_state.json").read_text())
    assert state["resumed_from_step"] == 2 and state["world_size"] == 2

    monkeypatch.setenv("ZHINAO_HOME", str(tmp_path / "other"))     # the same run, uninterrupted
    other = open_store()
    other.import_model("chat-model", tiny_pretrained, stage="test")
    _documents(other)
    _long_data(other, min_chars=1500)
    clean = execute_stage(LONG_PHASE, params)
    assert clean.ref == resumed.ref
    rows, reference = read_metrics(folder / "metrics.jsonl"), read_metrics(other.model_path(clean.ref) / "metrics.jsonl")
    assert [r["step"] for r in rows] == list(range(1, state["steps"] + 1))
    assert [r["loss"] for r in rows] == pytest.approx([r["loss"] for r in reference], rel=1e-6)

    # the model: the new base and limit as transformers reads them, its rotary frequencies from that base
    from transformers import AutoConfig
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    config = AutoConfig.from_pretrained(folder)
    assert config.max_position_embeddings == 384 and config.rope_parameters["rope_theta"] == 1e5
    head = config.hidden_size // config.num_attention_heads
    expected = 1.0 / (1e5 ** (torch.arange(0, head, 2, dtype=torch.float64) / head))
    assert torch.allclose(LlamaRotaryEmbedding(config).inv_freq.double(), expected, rtol=1e-6)
    # lineage: the parent model and the long data
    parents = {p.split("@")[0]: p for p in store.resolve(resumed.ref).parents}
    assert parents["chat-model"] == model and parents["long-data"] == data


def test_the_long_context_pipeline_extends_a_model_in_phases_evaluated_at_the_lengths_they_reach(
        prefect_harness, tiny_pretrained):
    from zhinao.flows.long_context import LongContextParams, Phase, long_context
    from zhinao.tasks.eval.compare import table, with_ancestors
    from zhinao.tasks.eval.stage import EvalParams

    store = open_store()
    parent = store.import_model("chat-model", tiny_pretrained, stage="test").ref
    _documents(store)
    store.import_tables("sft-data", [pa.Table.from_pylist(sample_chats(1))])
    quick = dict(batch_size=4, micro_batch=2, epochs=1, valid_fraction=0.1)
    params = LongContextParams(
        model="chat-model", phases=[Phase(max_len=384, rope_theta=1e5), Phase(max_len=512, rope_theta=1e6)],
        long_data=LongDataParams(use_ray=False, min_chars=1500), training=LongPhaseParams(use_ray=False, **quick),
        evaluation=EvalParams(use_ray=False, tasks=["niah"], niah_mode="teacher-forced", niah_lengths=[256, 384, 512],
                              niah_depths=2, niah_variants=["value"]))
    results = long_context(params)
    assert [r.stage for r in results] == ["evaluate", "long-data", "long-phase", "evaluate", "long-phase", "evaluate"]
    first, second = results[2].ref, results[4].ref
    assert set(store.resolve(first).parents) >= {parent, results[1].ref}
    assert set(store.resolve(second).parents) >= {first, results[1].ref}
    for ref, theta, limit in ((first, 1e5, 384), (second, 1e6, 512)):
        config = json.loads((store.model_path(ref) / "config.json").read_text())
        assert config["rope_parameters"]["rope_theta"] == theta and config["max_position_embeddings"] == limit
    reached = {}
    for ev in (results[0], results[3], results[5]):
        tables = store.resolve(ev.ref).stats["tables"]
        reached[ev.ref] = sorted({c["length"] for c in tables["niah"]})
        assert len({c["length"] for c in tables.get("niah_skipped", [])}) == 3 - len(reached[ev.ref])
    assert list(reached.values()) == [[256], [256, 384], [256, 384, 512]]
    assert with_ancestors(store, ["long-phase"], 2) == [parent, first, second]
    labels, rows = table(store, [parent, first, second])
    by_length = {r["task"]: [r.get(label) for label in labels] for r in rows if r["task"].startswith("niah/")}
    assert [v is None for v in by_length["niah/length=512"]] == [True, True, False]
    assert long_context(params)[2].cache_hit                # a rerun is all cache hits


def test_a_bad_phase_is_refused_before_any_phase_trains():
    from zhinao.flows.long_context import LongContextParams, Phase, long_context

    later = Phase(max_len=1002, rope_theta=1e6, params={"world_size": 2, "sp_size": 2})    # 1002 % 4 != 0
    params = LongContextParams(phases=[Phase(max_len=512, rope_theta=1e5), later], evaluation=None)
    with pytest.raises(ValueError, match="does not split into 2 x sp_size 2"):
        long_context.fn(params)               # before the store is opened or any stage runs
    with pytest.raises(ValueError, match="must grow in length"):
        long_context.fn(params.model_copy(update={"phases": [Phase(max_len=512, rope_theta=1e5)] * 2}))
