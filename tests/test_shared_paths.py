"""A rank that cannot see the driver's files (another machine, no shared ZHINAO_HOME) says what
must be shared, naming the path, before it starts."""
import subprocess
import sys

from zhinao.model.train_spec import TrainSpec


def test_a_rank_names_the_run_spec_it_cannot_see(tmp_path):
    out = subprocess.run([sys.executable, "-m", "zhinao.model.train", str(tmp_path / "nowhere" / "train_spec.json")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert "cannot see the run spec" in out.stderr and "shared storage mounted at the same path" in out.stderr


def test_a_rank_names_the_token_shards_it_cannot_see(tmp_path):
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    spec = TrainSpec(data=str(tmp_path / "driver-only" / "tokens"), out=str(ckpt / "final"), checkpoints=str(ckpt))
    path = spec.save(ckpt / "train_spec.json")
    out = subprocess.run([sys.executable, "-m", "zhinao.model.train", str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert f"cannot see the token shards {tmp_path / 'driver-only' / 'tokens'}" in out.stderr
    assert "ZHINAO_HOME" in out.stderr
