"""Resuming from DeepSpeed checkpoints that someone else could write: a file replaced by a crafted
pickle is never executed (skipped by its checksum, or refused by the weights-only loader when the
marker was forged too), a damaged newest checkpoint gives way to the previous one or to a fresh
start, and an intact one still resumes exactly. One CPU rank (gloo) in this process, a tiny model."""
import hashlib
import json
import os
import shutil
import socket

import numpy as np
import pytest
import torch.distributed as dist

from zhinao.model import checkpoint
from zhinao.model import train as trainer
from zhinao.model.metrics import read_metrics
from zhinao.model.train_spec import TrainSpec

MODEL = dict(vocab_size=256, dim=32, n_layers=1, n_heads=2, n_kv_heads=1, multiple_of=16, max_seq_len=64)
MODEL_STATES, OPTIM_STATES = "mp_rank_00_model_states.pt", "zero_pp_rank_0_mp_rank_00_optim_states.pt"


@pytest.fixture(scope="module")
def one_rank():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0"}
    before = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    trainer.start_rank("gloo")
    yield
    dist.destroy_process_group()
    for k, v in before.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def reference(one_rank, tmp_path_factory):
    """An uninterrupted run of 6 steps, checkpoints every 2 (steps 4 and 6 kept): its folder and metrics."""
    root = tmp_path_factory.mktemp("reference")
    (root / "tokens").mkdir()
    np.random.default_rng(0).integers(0, 256, 4000).astype("<u4").tofile(root / "tokens" / "shard-00000.bin")
    spec = _spec(root / "tokens", root / "ckpt", root / "out")
    trainer.train(spec)
    assert checkpoint.completed(spec.checkpoints) == [4, 6]
    return spec, read_metrics(root / "ckpt" / "metrics.jsonl")


def _spec(data, checkpoints, out) -> TrainSpec:
    return TrainSpec(data=str(data), out=str(out), checkpoints=str(checkpoints), model=MODEL,
                     seq_len=16, micro_batch=2, steps=6, checkpoint_every=2, keep_checkpoints=2, max_lr=1e-2,
                     warmup_steps=1, zero_stage=1, precision="fp32", peak_flops=1e12, eval_batches=1)


def _rerun(reference, tmp_path, tamper) -> tuple[dict, list[dict], TrainSpec]:
    """The reference's checkpoints copied, tampered with, and the same run started again on them."""
    spec = _spec(reference[0].data, tmp_path / "ckpt", tmp_path / "out")
    shutil.copytree(reference[0].checkpoints, spec.checkpoints)
    tamper(tmp_path / "ckpt")
    summary = trainer.train(spec)
    return summary, read_metrics(tmp_path / "ckpt" / "metrics.jsonl"), spec


def _same_run(rows, reference):
    assert [r["step"] for r in rows] == list(range(1, 7))
    assert [(r["loss"], r["grad_norm"]) for r in rows] == [(r["loss"], r["grad_norm"]) for r in reference[1]]


def _craft(path, marker) -> None:
    """A pickle whose loading creates `marker`: what someone who can write the folder could put there."""
    class Payload:
        def __reduce__(self):
            return exec, (f"open({str(marker)!r}, 'w').close()",)

    import torch

    torch.save({"module": Payload()}, path)


def test_a_crafted_pickle_is_not_run_and_the_run_falls_back_or_refuses(reference, tmp_path, caplog):
    marker = tmp_path / "pwned"

    def replace_model_states(folder):
        _craft(folder / checkpoint.tag(6) / MODEL_STATES, marker)

    summary, rows, spec = _rerun(reference, tmp_path / "checksum", replace_model_states)
    assert not marker.exists()
    assert summary["resumed_from_step"] == 4
    assert (f"checkpoint step-00000006 in {spec.checkpoints} is damaged ({MODEL_STATES}: checksum mismatch); "
            "resuming from step-00000004") in caplog.text
    _same_run(rows, reference)

    # the marker forged as well (its checksums match the crafted file): the weights-only loader refuses it
    for name in (MODEL_STATES, OPTIM_STATES):
        def forge(folder):
            tag = folder / checkpoint.tag(6)
            _craft(tag / name, marker)
            done = json.loads((tag / checkpoint.MARKER).read_text())
            done["files"][name] = hashlib.sha256((tag / name).read_bytes()).hexdigest()
            (tag / checkpoint.MARKER).write_text(json.dumps(done))

        with pytest.raises(RuntimeError, match=f"{name}: refused, it holds objects other than tensors") as e:
            _rerun(reference, tmp_path / f"forged-{name}", forge)
        assert "exec" in str(e.value)
        assert not marker.exists()


def test_b_a_damaged_newest_checkpoint_falls_back_to_the_previous_or_starts_over(reference, tmp_path, caplog):
    def truncate(folder, step):
        f = folder / checkpoint.tag(step) / OPTIM_STATES
        f.write_bytes(f.read_bytes()[:1000])

    summary, rows, spec = _rerun(reference, tmp_path / "one", lambda folder: truncate(folder, 6))
    assert summary["resumed_from_step"] == 4
    assert f"{checkpoint.tag(6)} in {spec.checkpoints} is damaged ({OPTIM_STATES}: checksum mismatch); " \
           f"resuming from {checkpoint.tag(4)}" in caplog.text
    _same_run(rows, reference)
    assert checkpoint.completed(spec.checkpoints) == [4, 6]     # step 6 saved again, intact this time
    assert checkpoint.damage(spec.checkpoints, 6) is None

    caplog.clear()
    summary, rows, spec = _rerun(reference, tmp_path / "both", lambda folder: [truncate(folder, s) for s in (4, 6)])
    assert summary["resumed_from_step"] is None
    assert f"{checkpoint.tag(4)} in {spec.checkpoints} is damaged ({OPTIM_STATES}: checksum mismatch); " \
           "starting over" in caplog.text
    _same_run(rows, reference)


def test_c_an_intact_checkpoint_resumes_exactly_and_lists_its_files(reference, tmp_path):
    summary, rows, spec = _rerun(reference, tmp_path, lambda folder: shutil.rmtree(folder / checkpoint.tag(6)))
    assert summary["resumed_from_step"] == 4
    _same_run(rows, reference)
    tag = tmp_path / "ckpt" / checkpoint.tag(4)
    files = json.loads((tag / checkpoint.MARKER).read_text())["files"]
    assert sorted(files) == sorted([MODEL_STATES, OPTIM_STATES])
    assert files[OPTIM_STATES] == hashlib.sha256((tag / OPTIM_STATES).read_bytes()).hexdigest()
