"""Pretraining with DeepSpeed on CPU (gloo): stage 1 then stage 2 as Prefect flows with falling loss
and a Llama export that transformers loads with our logits; a killed two-rank run that resumes
with the losses of an uninterrupted one; ZeRO-3 with offload, activation checkpointing and bf16;
ZeRO-3 init_from and export holding one whole parameter at a time; bad configurations refused
before any process starts."""
import json
import logging
import os
import sys
from pathlib import Path

import pytest
import torch

from zhinao.tasks.pretrain.stage import PRETRAIN_STAGE1, PRETRAIN_STAGE2, AnnealParams, PretrainParams

from zhinao.flows.stages import pretrain_stage1, pretrain_stage2
from zhinao.flows.stage import execute_stage
from zhinao.model import checkpoint
from zhinao.model.hf import config_from_hf, import_hf
from zhinao.model.metrics import MetricsLog, read_metrics
from zhinao.model.parallel import Checkpointed, apply_activation_checkpointing, plain_state_dict
from zhinao.model.train import KILL_AT_STEP
from zhinao.model.config import preset
from zhinao.model.transformer import Transformer
from zhinao.tasks.pretrain.progress import MetricsFollower
from zhinao.tasks.store import Store
from zhinao.tasks.home import open_store

from .pretrain_data import token_versions

SMALL = dict(seq_len=64, micro_batch=8, max_lr=3e-3, warmup_steps=3)


def _metrics(store: Store, ref: str) -> list[dict]:
    return read_metrics(store.model_path(ref) / "metrics.jsonl")


def test_stage1_then_stage2_pretrain_with_falling_loss_and_export_to_transformers(prefect_harness):
    refs = token_versions()
    store = open_store()
    first = pretrain_stage1(PretrainParams(steps=40, checkpoint_every=20, eval_every=20, **SMALL),
                            inputs={"tokens-stage1": refs["tokens-stage1"]})
    m1 = store.resolve(first.ref)
    assert m1.kind == "model" and set(m1.parents) == {refs["tokens-stage1"], refs["tokenizer"]}
    rows = _metrics(store, first.ref)
    assert [r["step"] for r in rows] == list(range(1, 41))
    start, end = sum(r["loss"] for r in rows[:5]) / 5, sum(r["loss"] for r in rows[-5:]) / 5
    assert end < start - 1.0, (start, end)
    valid = [r["valid_loss"] for r in rows if "valid_loss" in r]
    assert len(valid) == 2 and valid[1] < valid[0]
    assert all(r["grad_norm"] > 0 and r["tokens_per_s"] > 0 and 0 < r["mfu"] < 1 for r in rows)
    assert rows[-1]["tokens"] == 40 * 64 * 8
    assert {t["plot"] for t in first.stats["tables"]["plots"]} >= {"LR schedule"}

    second = pretrain_stage2(AnnealParams(steps=10, seq_len=64, micro_batch=8, checkpoint_every=5),
                             inputs={"tokens-stage2": refs["tokens-stage2"], "pretrain-stage1": first.ref})
    m2 = store.resolve(second.ref)
    assert first.ref in m2.parents and refs["tokens-stage2"] in m2.parents
    rows2 = _metrics(store, second.ref)
    final_lr = json.loads((store.model_path(first.ref) / "trainer_state.json").read_text())["final_lr"]
    assert rows2[0]["lr"] == pytest.approx(final_lr) and rows2[-1]["lr"] < rows2[0]["lr"] / 5   # anneal to 0
    assert rows2[0]["loss"] < start - 0.8           # starts from stage 1's weights, not from scratch
    state2 = json.loads((store.model_path(second.ref) / "trainer_state.json").read_text())
    assert state2["final_lr"] == 0 and state2["optimizer_from"].endswith("deepspeed")   # stage 1's AdamW continued
    assert store.lineage(m2)                          # reaches back through stage 1 to the tokens

    from transformers import AutoTokenizer, LlamaForCausalLM

    folder = store.model_path(second.ref)
    hf = LlamaForCausalLM.from_pretrained(folder).eval()
    ours = import_hf(folder).eval()
    tok = AutoTokenizer.from_pretrained(folder)
    ids = torch.tensor([tok("The river delta 河流三角洲 1234")["input_ids"]])
    with torch.no_grad():
        assert torch.allclose(hf(ids).logits, ours(ids), atol=1e-4)
    again = pretrain_stage2(AnnealParams(steps=10, seq_len=64, micro_batch=8, checkpoint_every=5),
                            inputs={"tokens-stage2": refs["tokens-stage2"], "pretrain-stage1": first.ref})
    assert again.cache_hit and again.ref == second.ref


@pytest.mark.parametrize("launcher", ["processes", "ray"])
def test_killed_two_rank_run_resumes_with_the_losses_of_an_uninterrupted_one(prefect_harness, tmp_path,
                                                                            monkeypatch, launcher):
    params = PretrainParams(steps=12, checkpoint_every=4, zero_stage=2, world_size=2, **SMALL)
    refs = token_versions()
    monkeypatch.setenv(KILL_AT_STEP, "6")            # rank 0 gets SIGKILL after step 6; Prefect retries the flow
    killed = pretrain_stage1(params.model_copy(update={"launcher": launcher}),
                             inputs={"tokens-stage1": refs["tokens-stage1"]})
    state = json.loads((open_store().model_path(killed.ref) / "trainer_state.json").read_text())
    assert state["resumed_from_step"] == 4 and state["world_size"] == 2
    resumed = _metrics(open_store(), killed.ref)

    monkeypatch.delenv(KILL_AT_STEP)
    monkeypatch.setenv("ZHINAO_HOME", str(tmp_path / "other"))   # the same run again, uninterrupted
    refs = token_versions()
    clean = pretrain_stage1(params, inputs={"tokens-stage1": refs["tokens-stage1"]})   # processes, not killed
    assert clean.ref.split("@")[1] == killed.ref.split("@")[1]
    reference = _metrics(open_store(), clean.ref)
    assert [r["step"] for r in resumed] == list(range(1, 13))
    assert [r["loss"] for r in resumed] == pytest.approx([r["loss"] for r in reference], rel=1e-6)
    assert [r["grad_norm"] for r in resumed] == pytest.approx([r["grad_norm"] for r in reference], rel=1e-5)


@pytest.mark.parametrize("setup", [
    dict(zero_stage=0, precision="fp32"),
    dict(zero_stage=1, precision="fp32", launcher="deepspeed"),      # through the deepspeed launcher
    dict(zero_stage=3, offload_optimizer=True, offload_params=True, activation_checkpointing=True, precision="bf16"),
])
def test_zero_stages_offload_checkpointing_and_precision(setup, monkeypatch):
    if setup.get("launcher") == "deepspeed":   # a venv that is not activated: its tools are not on PATH
        here = str(Path(sys.executable).parent)
        monkeypatch.setenv("PATH", os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != here))
    refs = token_versions()
    r = execute_stage(PRETRAIN_STAGE1, PretrainParams(steps=6, checkpoint_every=3, **SMALL, **setup),
                      inputs={"tokens-stage1": refs["tokens-stage1"]})
    folder = open_store().model_path(r.ref)
    state = json.loads((folder / "trainer_state.json").read_text())
    assert state["zero_stage"] == setup["zero_stage"] and state["precision"] == setup["precision"]
    rows = read_metrics(folder / "metrics.jsonl")
    assert len(rows) == 6 and rows[-1]["loss"] < rows[0]["loss"] and all(r["grad_norm"] > 0 for r in rows)
    model = import_hf(folder)                     # the gathered weights load into the plain model
    assert model.cfg.n_layers == 4 and all(torch.isfinite(p).all() for p in model.parameters())


def test_stage2_continues_stage1s_optimizer_or_starts_fresh_and_refuses_another_layout():
    """Carried AdamW moments change stage 2's updates (same weights and data, so the first loss and
    gradient are those of a fresh optimizer; the second step differs), a layout stage 1's partitions
    do not fit is refused before training, and a stage 1 that kept no state says so."""
    refs = token_versions()
    first = execute_stage(PRETRAIN_STAGE1, PretrainParams(steps=6, **SMALL),
                          inputs={"tokens-stage1": refs["tokens-stage1"]})
    assert (open_store().model_path(first.ref) / "deepspeed" / checkpoint.tag(6) / checkpoint.MARKER).exists()
    inputs = {"tokens-stage2": refs["tokens-stage2"], "pretrain-stage1": first.ref}
    runs = {}
    for how in ("carry", "fresh"):
        r = execute_stage(PRETRAIN_STAGE2, AnnealParams(steps=3, seq_len=64, micro_batch=8, optimizer_state=how,
                                                        start_lr=2e-3), inputs=inputs)
        runs[how] = _metrics(open_store(), r.ref)
        assert [row["lr"] for row in runs[how]] == pytest.approx([2e-3, 2e-3 * 2 / 3, 2e-3 / 3])   # stage 2's own
    assert runs["carry"][0]["loss"] == pytest.approx(runs["fresh"][0]["loss"], rel=1e-6)
    assert runs["carry"][0]["grad_norm"] == pytest.approx(runs["fresh"][0]["grad_norm"], rel=1e-5)
    assert abs(runs["carry"][1]["loss"] - runs["fresh"][1]["loss"]) > 1e-3
    with pytest.raises(ValueError, match=r"needs its layout: zero_stage 2 \(stage 1: 1\)"):
        execute_stage(PRETRAIN_STAGE2, AnnealParams(steps=3, seq_len=64, micro_batch=8, zero_stage=2), inputs=inputs)
    bare = execute_stage(PRETRAIN_STAGE1, PretrainParams(steps=6, keep_optimizer_state=False, **SMALL),
                         inputs={"tokens-stage1": refs["tokens-stage1"]})
    with pytest.raises(ValueError, match="kept no optimizer state"):
        execute_stage(PRETRAIN_STAGE2, AnnealParams(steps=3, seq_len=64, micro_batch=8),
                      inputs={"tokens-stage2": refs["tokens-stage2"], "pretrain-stage1": bare.ref})


def test_zero3_builds_the_model_sharded_with_the_same_init_and_loads_stage1_weights_into_shards():
    """ZeRO-3 builds inside zero.Init: its losses match ZeRO-2's from the same seed, the weights it
    gathers for export are ZeRO-2's (whose parameters are whole on every rank), and stage 2 under
    ZeRO-3 starts from stage 1's weights exactly as ZeRO-1 does. (What each rank holds at once during
    init_from and export: test_zero3_init_from_and_export_hold_one_whole_parameter_at_a_time.)"""
    refs = token_versions()
    run = dict(world_size=2, precision="fp32", checkpoint_every=4, seq_len=64, micro_batch=8)
    losses, stage1 = {}, {}
    for zero in (2, 3):
        stage1[zero] = execute_stage(PRETRAIN_STAGE1, PretrainParams(steps=4, warmup_steps=1, zero_stage=zero, max_lr=3e-3, **run),
                                     inputs={"tokens-stage1": refs["tokens-stage1"]}).ref
        losses[zero] = [row["loss"] for row in _metrics(open_store(), stage1[zero])]
    assert losses[3] == pytest.approx(losses[2], rel=1e-4) and losses[3][-1] < losses[3][0]
    exported = {zero: import_hf(open_store().model_path(stage1[zero])).state_dict() for zero in (2, 3)}
    assert set(exported[3]) == set(exported[2]) and len(exported[3]) == 9 * 4 + 3
    torch.manual_seed(PretrainParams().seed)     # the init both runs started from (build_model's)
    init = Transformer(config_from_hf(open_store().model_path(stage1[2]))).state_dict()
    for name, weight in exported[2].items():
        # elementwise equality is too strict: AdamW turns reduction-order noise in near-zero gradients
        # into visible steps; measured against what training changed, the two agree to ~1e-4 or better
        update = (weight - init[name]).norm()
        assert update > 0 and (exported[3][name] - weight).norm() <= 1e-3 * update, \
            (name, ((exported[3][name] - weight).norm() / update).item())
    anneal = {}
    for zero in (1, 3):
        r = execute_stage(PRETRAIN_STAGE2, AnnealParams(steps=2, zero_stage=zero, optimizer_state="fresh", **run),
                          inputs={"tokens-stage2": refs["tokens-stage2"], "pretrain-stage1": stage1[3]})
        anneal[zero] = _metrics(open_store(), r.ref)[0]["loss"]
    assert anneal[3] == pytest.approx(anneal[1], rel=1e-4)


def test_zero3_init_from_and_export_hold_one_whole_parameter_at_a_time(tmp_path):
    """Two ZeRO-3 ranks (gloo) build a model from a Llama folder and gather it back for export, as
    zhinao.model.train does, with every GatheredParameters context watched (tests/zero3_probe.py): no rank
    ever holds more than one whole parameter beyond its shards, every parameter goes through,
    only rank 0 reads the checkpoint, and rank 0 exports exactly the weights it was given."""
    import subprocess

    from safetensors.torch import load_file, save_file

    from zhinao.model.hf import export_hf
    from zhinao.model.launch import cpu_threads, free_port, rank_env

    world = 2

    def ranks(init: Path) -> tuple[list[int], list[str]]:
        port = free_port()
        procs = [subprocess.Popen([sys.executable, "-m", "tests.zero3_probe", str(init), str(tmp_path)],
                                  env={**os.environ, **rank_env(r, world, r, world, "127.0.0.1", port),
                                       "OMP_NUM_THREADS": cpu_threads(world)},
                                  cwd=Path(__file__).resolve().parents[1], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT) for r in range(world)]
        try:
            outputs = [p.communicate(timeout=420)[0].decode(errors="replace") for p in procs]
        finally:
            for p in procs:             # a rank left waiting on a collective
                if p.poll() is None:
                    p.kill()
                    p.wait()
        return [p.returncode for p in procs], outputs

    torch.manual_seed(3)
    source = Transformer(preset("tiny"))
    export_hf(source, tmp_path / "init")
    codes, outputs = ranks(tmp_path / "init")
    assert codes == [0, 0], "\n".join(o[-3000:] for o in outputs)
    found = [json.loads((tmp_path / f"rank-{r}.json").read_text()) for r in range(world)]
    full = sum(p.numel() for p in source.parameters())
    largest = max(p.numel() for p in source.parameters())
    assert largest < full / 3
    for r in found:
        assert r["full_model"] == full and r["largest_param"] == largest
        for phase in ("init_from", "export"):
            seen = r["phases"][phase]
            assert seen["max_whole"] <= largest, (r["rank"], phase, seen["max_whole"], full)
            assert sorted(set(seen["gathered"])) == r["param_ids"], (r["rank"], phase)   # every parameter
        assert r["whole_after_init"] == 0 and r["whole_after_export"] == 0   # partitioned again after each
    assert found[0]["hf_loads"] == [str(tmp_path / "init")] and found[1]["hf_loads"] == []
    assert found[0]["exported"] and found[0]["export_keys_match"] and found[0]["export_equal"]
    assert not found[1]["exported"]

    # a checkpoint that does not fit the model fails on every rank (rank 1 does not wait for rank 0)
    export_hf(source, tmp_path / "bad")
    weights = load_file(str(tmp_path / "bad" / "model.safetensors"))
    del weights["lm_head.weight"]
    save_file(weights, str(tmp_path / "bad" / "model.safetensors"))
    codes, outputs = ranks(tmp_path / "bad")
    assert all(c != 0 for c in codes) and all("weights do not fit the config (missing ['output.weight']" in o
                                              for o in outputs), "\n".join(o[-3000:] for o in outputs)


def test_bad_configurations_fail_before_training():
    refs = token_versions()
    tokens = {"tokens-stage1": refs["tokens-stage1"]}
    with pytest.raises(ValueError, match="offload_params needs zero_stage 3"):
        execute_stage(PRETRAIN_STAGE1, PretrainParams(offload_params=True, zero_stage=2), inputs=tokens)
    with pytest.raises(ValueError, match="longer than the model's max_seq_len"):
        execute_stage(PRETRAIN_STAGE1, PretrainParams(seq_len=512), inputs=tokens)
    with pytest.raises(ValueError, match="unknown model preset"):
        execute_stage(PRETRAIN_STAGE1, PretrainParams(preset="13b"), inputs=tokens)
    with pytest.raises(ValueError, match="not a token-shard version"):
        execute_stage(PRETRAIN_STAGE1, PretrainParams(), inputs={"tokens-stage1": refs["tokenizer"]})
    with pytest.raises(ValueError, match="not a pretrain-stage1 model version"):
        execute_stage(PRETRAIN_STAGE2, AnnealParams(), inputs={"tokens-stage2": refs["tokens-stage2"],
                                                               "pretrain-stage1": refs["tokenizer"]})
    assert not open_store().catalog.find("pretrain-stage1")


def test_checkpoint_markers_metrics_truncation_and_activation_checkpointing(tmp_path):
    for step in (4, 8, 12):
        (tmp_path / checkpoint.tag(step)).mkdir()
    for step in (4, 8):
        (tmp_path / checkpoint.tag(step) / checkpoint.MARKER).write_text("{}")
    assert checkpoint.latest(tmp_path) == 8           # step 12 was being written when the run died

    log = MetricsLog(tmp_path / "m.jsonl")
    follower = MetricsFollower(tmp_path / "m.jsonl", 20, "run", logging.getLogger("test"))
    for step in range(1, 11):
        log.write({"step": step, "loss": 1.0 / step, "lr": 1e-3, "grad_norm": 1.0})
    with (tmp_path / "m.jsonl").open("a") as fh:
        fh.write('{"step": 11, "lo')                  # a line cut by the kill
    follower()
    assert follower.step == 10
    MetricsLog(tmp_path / "m.jsonl", resume_step=8)
    assert [r["step"] for r in read_metrics(tmp_path / "m.jsonl")] == list(range(1, 9))
    MetricsLog(tmp_path / "m.jsonl", resume_step=8).write({"step": 9, "loss": 0.1, "lr": 1e-3, "grad_norm": 1.0})
    follower()                                        # the follower starts over on the rewritten file
    assert follower.step == 9 and follower.bar.n == 9

    torch.manual_seed(0)
    plain = Transformer(preset("tiny"))
    wrapped = Transformer(preset("tiny"))
    wrapped.load_state_dict(plain.state_dict())
    apply_activation_checkpointing(wrapped)
    assert all(isinstance(layer, Checkpointed) for layer in wrapped.layers) and len(wrapped.layers) == 4
    x = torch.randint(0, 4096, (2, 33))
    losses = [m(x[:, :-1], x[:, 1:])[1] for m in (plain, wrapped)]
    for loss in losses:
        loss.backward()
    assert losses[1].item() == pytest.approx(losses[0].item(), rel=1e-6)
    # every parameter (embeddings, each block, final norm, head) gets the gradient it gets without
    # checkpointing: the recomputed forward must see the same inputs and weights
    plain_grads = {name: p.grad for name, p in plain.named_parameters()}
    wrapped_grads = plain_state_dict({name: p.grad for name, p in wrapped.named_parameters()})
    assert set(wrapped_grads) == set(plain_grads) and len(plain_grads) == 9 * 4 + 3   # 4 blocks, embeddings, norm, head
    for name, grad in plain_grads.items():
        assert grad is not None and wrapped_grads[name] is not None, name
        assert grad.abs().sum() > 0, name
        assert torch.allclose(wrapped_grads[name], grad, rtol=1e-5, atol=1e-7), \
            (name, (wrapped_grads[name] - grad).abs().max().item())
    assert set(plain_state_dict(wrapped.state_dict())) == set(plain.state_dict())


def test_ablation_separates_a_deduplicated_from_a_raw_corpus(prefect_harness):
    """A raw corpus where a few pages repeat many times (boilerplate, mirrors) against the same
    corpus through dedup-exact: with equal compute, the deduplicated data validates better."""
    import pyarrow as pa

    from zhinao.tasks.ablate.stage import ABLATE, AblateParams

    from zhinao.flows.stages import ablate
    from zhinao.tasks.dedup.exact_stage import DEDUP_EXACT, ExactDedupParams
    from zhinao.tasks.corpus.labelled import labelled_articles

    refs = token_versions()
    docs = [{**{k: r[k] for k in ("id", "text", "lang", "url", "source")}, "timestamp": None}
            for r in labelled_articles(4, seed=7)]
    repeated = [dict(d, id=f"{d['id']}-copy{c}") for d in docs[:8] for c in range(20)]
    store = open_store()
    raw = store.import_tables("quality", [pa.Table.from_pylist(docs + repeated)]).ref
    dedup = execute_stage(DEDUP_EXACT, ExactDedupParams(use_ray=False), inputs={"quality": raw}).ref
    assert store.resolve(dedup).rows == len(docs)
    params = AblateParams(datasets=["raw", "dedup"], steps=60, eval_every=20, seeds=[0, 1])
    result = ablate(params, inputs={"raw": raw, "dedup": dedup, "tokenizer": refs["tokenizer"]})
    rows = {r["dataset"]: r for r in result.stats["tables"]["ablation"]}
    assert set(rows) == {raw, dedup} and all(r["seeds"] == 2 for r in rows.values())
    # validation documents (and every copy of them) are out of both training sets
    assert rows[raw]["removed_overlap"] >= rows[dedup]["removed_overlap"] > 0
    gap = rows[raw]["final_valid_loss"] - rows[dedup]["final_valid_loss"]
    spread = max(rows[raw]["std_over_seeds"], rows[dedup]["std_over_seeds"])
    assert gap > 0.1 and gap > 3 * spread, rows
    report = open_store().model_path(result.ref, kind="report")
    assert (report / "ablation.png").exists() and len(json.loads((report / "ablation.json").read_text())["runs"]) == 4
    assert set(open_store().resolve(result.ref).parents) == {raw, dedup, refs["tokenizer"]}
    with pytest.raises(ValueError, match="at least two datasets"):
        AblateParams(datasets=["raw"])
    with pytest.raises(ValueError, match="not a document version"):
        execute_stage(ABLATE, AblateParams(datasets=["raw", "tok"]),
                      inputs={"raw": raw, "tok": refs["tokenizer"], "tokenizer": refs["tokenizer"]})
