"""DeepSpeed's JIT op loads survive a process killed while holding torch's build lock."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the comm op every CPU rank loads at init_distributed: the load that hung after a killed rank
LOAD_SHM = textwrap.dedent("""
    import sys
    from zhinao.model.ds_ops import guard_jit_builds
    if sys.argv[1] == "guarded":
        guard_jit_builds()
    from deepspeed.accelerator import get_accelerator
    builder = get_accelerator().create_op_builder("ShareMemCommBuilder")
    builder.jit_load(verbose=False)
    print("loaded", flush=True)
""")


def load(mode: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", LOAD_SHM, mode], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_a_baton_left_by_a_killed_loader_is_removed_and_the_op_loads(tmp_path):
    from zhinao.model.ds_ops import build_folder

    assert load("guarded", 900).stdout.splitlines()[-1] == "loaded"   # built once (the real cache), then cheap
    baton = build_folder("deepspeed_shm_comm") / "lock"
    assert not baton.exists()
    baton.touch()   # what a rank SIGKILLed inside torch's FileBaton leaves
    try:
        try:
            load("plain", 20)
            raise AssertionError("torch's own load should wait on the stale baton")
        except subprocess.TimeoutExpired:
            pass
        done = load("guarded", 300)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.splitlines()[-1] == "loaded"
        assert "stale build lock" in done.stderr
        assert not baton.exists()
    finally:
        baton.unlink(missing_ok=True)


def test_a_live_holder_keeps_the_guard(tmp_path, monkeypatch):
    """A second loader waits while the first holds the guard (it is building), and goes on after."""
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import time
        from zhinao.model.ds_ops import op_lock
        with op_lock("probe") as folder:
            (folder / "lock").touch()          # a live build's baton
            print("holding", flush=True)
            time.sleep(600)
    """)], cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, "TORCH_EXTENSIONS_DIR": str(tmp_path)},
        start_new_session=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        waiter = subprocess.Popen([sys.executable, "-c", "from zhinao.model.ds_ops import op_lock\n"
                                   "with op_lock('probe'): print('got it', flush=True)"], cwd=ROOT,
                                  stdout=subprocess.PIPE, text=True)
        time.sleep(3)
        assert waiter.poll() is None and (tmp_path / "probe" / "lock").exists()   # the live baton stays
        os.killpg(holder.pid, signal.SIGKILL)                                  # dies inside the build
        out, _ = waiter.communicate(timeout=60)
        assert out.strip() == "got it"
        assert not (tmp_path / "probe" / "lock").exists()
    finally:
        if holder.poll() is None:
            os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
