"""Fail fast on what cannot succeed: a mistake in the arguments fails before the command waits for
its Prefect server, a deterministic error inside a stage is not retried, and either way the user
reads one `error:` line naming the problem, with the traceback in the log."""
import os
import subprocess
import sys
import time


def _cli(tmp_path, *argv):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ZHINAO_"))}
    env |= {"ZHINAO_HOME": str(tmp_path / "home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    start = time.time()
    out = subprocess.run([sys.executable, "-m", "zhinao.app.cli", *argv], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    return out, time.time() - start


def test_argument_mistakes_fail_before_the_server_is_waited_for(tmp_path):
    for argv, says in ((["run", "nope"], "unknown stage or pipeline 'nope'"),
                       (["run", "ingest", "-p", "shard_rowz=5"], "unknown parameter 'shard_rowz'"),
                       (["run", "dedup-exact", "-i", "quality=quality@0bad"], "no version of dataset 'quality'"),
                       (["run", "dedup-exact", "-i", "qualty=quality"], "has no input(s) ['qualty']"),
                       (["run", "quality", "-i", "langid"], "expected INPUT=DATASET[@VERSION] (quality reads: langid)"),
                       (["run", "quality", "-p", 'gopher_quality={"min_doc_words": -80}'],
                        "gopher_quality.min_doc_words=-80: should be greater than or equal to 0")):
        out, took = _cli(tmp_path, *argv)
        assert out.returncode == 2, (argv, out.stdout, out.stderr[-2000:])
        errors = [line for line in out.stdout.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and says in errors[0], (argv, out.stdout)
        assert "Traceback" not in out.stdout + out.stderr and "last-error.log" in errors[0]
        assert "waiting for the Prefect server" not in out.stderr
    assert (tmp_path / "home" / "logs" / "last-error.log").read_text().startswith("Traceback")


def test_a_deterministic_stage_error_is_not_retried(tmp_path):
    out, _ = _cli(tmp_path, "run", "ingest", "-p", f"sources={tmp_path / 'no-such-crawl'}", "-p", "use_ray=false")
    assert out.returncode == 2, out.stdout + out.stderr[-3000:]
    errors = [line for line in out.stdout.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "no-such-crawl" in errors[0], out.stdout
    assert "retrying" not in out.stderr and out.stderr.count("Beginning flow run") == 1
