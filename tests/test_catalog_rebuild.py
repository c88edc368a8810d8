"""`zhinao catalog rebuild`: a second machine on a shared store sees the first one's versions."""
import subprocess
import sys

from zhinao.app.cli import main
from zhinao.flows.stage import execute_stage
from zhinao.tasks.home import open_store
from tests.stages import EVENS, NUMBERS, DerivedParams, NumParams


def test_a_second_catalog_on_the_same_store_is_rebuilt_from_its_manifests(s3_server, tmp_path, monkeypatch):
    uri = s3_server.bucket() + "/store"
    first = open_store(root=uri, catalog=str(tmp_path / "machine-a.sqlite"))
    n = execute_stage(NUMBERS, NumParams(use_ray=False, count=9), store=first)
    e = execute_stage(EVENS, DerivedParams(use_ray=False), store=first)
    first.writer("numbers", "never-committed")           # an attempt that died: not a version

    monkeypatch.setenv("ZHINAO_STORE", uri)
    monkeypatch.setenv("ZHINAO_CATALOG", str(tmp_path / "machine-b.sqlite"))
    second = open_store()
    assert second.catalog.all() == []
    assert main(["catalog", "rebuild"]) == 0
    assert {r["version"] for r in second.catalog.all()} == {n.version, e.version}
    assert [m.manifest.ref for m in second.lineage("evens").parents] == [n.ref]
    assert [m.ref for m in second.downstream(n.ref)] == [e.ref]
    # the rebuilt catalog serves cache hits: nothing is recomputed on the second machine
    assert execute_stage(EVENS, DerivedParams(use_ray=False), store=second).cache_hit
    assert main(["catalog", "rebuild"]) == 0                # idempotent


def test_prune_unregisters_versions_whose_files_are_gone(zhinao_home, capsys):
    store = open_store()
    n = execute_stage(NUMBERS, NumParams(use_ray=False, count=4), store=store)
    store.root.fs.delete_dir(store.root.join("numbers", n.version))
    assert main(["catalog", "rebuild"]) == 0
    assert store.catalog.get(n.version) is not None           # without --prune nothing is removed
    assert main(["catalog", "rebuild", "--prune"]) == 0
    assert store.catalog.get(n.version) is None
    assert f"- numbers@{n.version}" in capsys.readouterr().out


def test_the_cli_command_runs_as_installed(zhinao_home):
    out = subprocess.run([sys.executable, "-m", "zhinao.app.cli", "catalog", "rebuild"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "0 version(s) added" in out.stdout
