import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest

from zhinao.flows.stage import execute_stage
from zhinao.tasks.store import Manifest, VersionNotFound, code_fingerprint, version_id, write_shard
from zhinao.tasks.home import open_store
from tests.stages import EVENS, NUMBERS, QUADS, DerivedParams, NumParams

REPO = Path(__file__).resolve().parents[1]


def numbers(**kw):
    return NumParams(use_ray=False, **kw)


def test_commit_then_read_back_as_arrow(zhinao_home):
    r = execute_stage(NUMBERS, numbers(count=12, per_split=5))
    store = open_store()
    m = store.resolve("numbers")
    assert m.version == r.version and m.rows == 12 and len(m.shards) == 3
    table = store.open_arrow(f"numbers@{r.version[:6]}")
    assert sorted(table["n"].to_pylist()) == list(range(12))
    assert [f["name"] for f in m.schema] == ["id", "text", "n"]
    # the layout: <root>/<dataset>/<version>/{part-*.parquet, manifest.json}
    folder = zhinao_home / "store" / "numbers" / r.version
    assert sorted(p.name for p in folder.iterdir()) == [
        "manifest.json", "part-00000-0000.parquet", "part-00001-0000.parquet", "part-00002-0000.parquet"]


def test_identical_rerun_is_a_cache_hit_and_does_no_work(tmp_path):
    calls = tmp_path / "calls"
    first = execute_stage(NUMBERS, numbers(calls_file=str(calls)))
    second = execute_stage(NUMBERS, numbers(calls_file=str(calls)))
    assert not first.cache_hit and second.cache_hit
    assert second.ref == first.ref
    assert len(calls.read_text().split()) == 4          # only the first run processed its 4 splits
    assert len(open_store().catalog.find("numbers")) == 1


def test_new_version_when_params_input_or_code_change(tmp_path, monkeypatch):
    base = execute_stage(NUMBERS, numbers())
    other = execute_stage(NUMBERS, numbers(scale=3))
    assert other.version != base.version
    evens_a = execute_stage(EVENS, DerivedParams(use_ray=False), inputs={"numbers": base.ref})
    evens_b = execute_stage(EVENS, DerivedParams(use_ray=False), inputs={"numbers": other.ref})
    assert evens_a.version != evens_b.version            # same params, different input
    # execution-only parameters do not change the version
    assert execute_stage(NUMBERS, NumParams(use_ray=False, num_cpus=1)).cache_hit

    pkg = tmp_path / "codefp_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "work.py").write_text("def f(x):\n    return x + 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = code_fingerprint(["codefp_pkg"])
    assert code_fingerprint(["codefp_pkg"]) == before
    (pkg / "work.py").write_text("def f(x):\n    return x + 2\n")
    after = code_fingerprint(["codefp_pkg"])
    assert after != before
    assert version_id("s", {"a": 1}, before, []) != version_id("s", {"a": 1}, after, [])
    assert version_id("s", {"a": 1, "b": 2}, before, []) == version_id("s", {"b": 2, "a": 1}, before, [])


def test_lineage_walks_a_three_stage_chain():
    n = execute_stage(NUMBERS, numbers())
    e = execute_stage(EVENS, DerivedParams(use_ray=False))
    q = execute_stage(QUADS, DerivedParams(use_ray=False))
    store = open_store()
    assert sorted(store.open_arrow(q.ref)["n"].to_pylist()) == [4 * i for i in range(0, 20, 2)]
    assert e.stats["dropped"] == {"odd": 10}
    node = store.lineage("quads")
    assert node.manifest.ref == q.ref
    assert [p.manifest.ref for p in node.parents] == [e.ref]
    assert [p.manifest.ref for p in node.parents[0].parents] == [n.ref]
    assert node.parents[0].parents[0].parents == []
    assert [m.ref for m in store.downstream(n.ref)] == [e.ref, q.ref]


def _writer(env, slow: float) -> subprocess.Popen:
    code = ("from zhinao.flows.stage import execute_stage; from tests.stages import NUMBERS, NumParams; "
            f"print(execute_stage(NUMBERS, NumParams(use_ray=False, slow_after_first_shard={slow})).model_dump_json())")
    return subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)


def test_killed_writer_leaves_no_visible_version_and_rerun_commits_once(zhinao_home, tmp_path):
    signal_file = tmp_path / "first-shard-written"
    env = os.environ | {"ZHINAO_TEST_SIGNAL": str(signal_file)}
    proc = _writer(env, slow=120)
    deadline = time.time() + 60
    while not signal_file.exists():
        assert proc.poll() is None and time.time() < deadline, "writer never reached its first shard"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    store = open_store()
    dataset_dir = zhinao_home / "store" / "numbers"
    staged = [p for p in dataset_dir.iterdir()]
    assert len(staged) == 1 and staged[0].name.startswith(".tmp-")          # hidden partial write
    assert any(staged[0].glob("part-*.parquet")) and not (staged[0] / "manifest.json").exists()
    assert store.catalog.find("numbers") == []
    with pytest.raises(VersionNotFound):
        store.resolve("numbers")

    rerun = _writer(env, slow=0)
    out, _ = rerun.communicate(timeout=120)
    assert rerun.returncode == 0
    assert '"cache_hit":false' in out
    assert [p.name for p in dataset_dir.iterdir()] == [store.resolve("numbers").version]  # stale staging gone
    assert len(store.catalog.find("numbers")) == 1
    assert execute_stage(NUMBERS, numbers()).cache_hit


def test_failed_stage_leaves_nothing_and_retries_clean(zhinao_home):
    boom = dataclasses.replace(NUMBERS, name="boom", process=_explode)
    with pytest.raises(ZeroDivisionError):
        execute_stage(boom, numbers())
    assert list((zhinao_home / "store" / "boom").iterdir()) == []   # shards of the good splits removed
    assert open_store().catalog.find("boom") == []


def _explode(split, params, sink, stats):
    sink.write(pa.table({"id": ["x"], "text": ["x"], "n": [1]}))
    if split["start"] >= 10:
        1 / 0


def test_store_on_an_fsspec_uri_root():
    store = open_store(root="memory://zhinao-test-store")
    r = execute_stage(NUMBERS, numbers(count=7), store=store)
    again = open_store(root="memory://zhinao-test-store")
    assert again.lookup("numbers", r.version).rows == 7
    assert sorted(again.open_arrow(r.ref)["n"].to_pylist()) == list(range(7))


def test_manifest_is_source_of_truth_for_an_unregistered_version(zhinao_home):
    """A writer that died between rename and catalog registration: the version is found on disk."""
    store = open_store()
    w = store.writer("raw", "v1")
    shard = write_shard(store.root, w.staging_rel, "part-0.parquet", pa.table({"id": ["a"]}))
    w.commit(Manifest(dataset="raw", version="v1", stage="raw", params={}, code="c", parents=[], shards=[shard],
                      created_at="2026-01-01T00:00:00"))
    assert store.catalog.find("raw") == []
    assert store.lookup("raw", "v1").rows == 1
    assert store.resolve("raw").version == "v1"


def test_bad_reference_names_the_problem():
    with pytest.raises(VersionNotFound, match="no version of dataset 'nothing'"):
        open_store().resolve("nothing@abc")
    with pytest.raises(ValueError, match="DATASET@VERSION"):
        open_store().resolve("@abc")


def test_asking_for_the_audit_later_keeps_the_version_and_everything_downstream():
    """`audit` is not in the id: the main version stays a cache hit (so does what was derived
    from it) and only its missing audit side version is computed."""
    execute_stage(NUMBERS, numbers())
    plain = execute_stage(EVENS, DerivedParams(use_ray=False))
    quads = execute_stage(QUADS, DerivedParams(use_ray=False))
    audited = execute_stage(EVENS, DerivedParams(use_ray=False, audit=True))
    assert audited.cache_hit and audited.ref == plain.ref and audited.audit_ref
    store = open_store()
    assert store.resolve(audited.audit_ref).parents == [plain.ref] and len(store.catalog.find("evens")) == 1
    again = execute_stage(EVENS, DerivedParams(use_ray=False, audit=True))
    assert again.cache_hit and again.audit_ref == audited.audit_ref          # computed once
    assert execute_stage(QUADS, DerivedParams(use_ray=False)).ref == quads.ref
    assert not list((Path(store.root.base) / ".resume").rglob("*.parquet"))   # the rerun's output is gone


def test_run_cadences_are_not_in_a_training_version_id():
    from zhinao.tasks.pretrain.stage import PretrainParams

    base = PretrainParams().key_params()
    assert PretrainParams(checkpoint_every=7, keep_checkpoints=5, eval_every=3, audit=True).key_params() == base
    assert PretrainParams(steps=7).key_params() != base


def test_file_fingerprints_see_an_edit_anywhere_and_hash_a_file_once(tmp_path, monkeypatch):
    from zhinao.tasks.store import fingerprint

    big = tmp_path / "crawl.warc.gz"
    big.write_bytes(os.urandom(3 << 20))
    reads = []
    real = fingerprint._hash_stream
    monkeypatch.setattr(fingerprint, "_hash_stream", lambda fh: reads.append(1) or real(fh))
    monkeypatch.setattr(fingerprint, "_memo", None)             # no memo handed: hashed each time
    assert fingerprint.file_fingerprint(str(big)) == fingerprint.file_fingerprint(str(big)) and len(reads) == 2
    fingerprint.remember_in(tmp_path / "memo" / "digests.sqlite")   # what the opener of the store hands
    first = fingerprint.file_fingerprint(str(big))
    reads.clear()
    assert fingerprint.file_fingerprint(str(big)) == first and not reads      # remembered: not read again
    data = bytearray(big.read_bytes())
    data[len(data) // 2] ^= 0xFF                                               # the middle, not the ends
    big.write_bytes(bytes(data))
    os.utime(big, ns=(1, 1))
    edited = fingerprint.file_fingerprint(str(big))
    assert edited != first and reads == [1]
    copy = tmp_path / "elsewhere" / "crawl.warc.gz"
    copy.parent.mkdir()
    copy.write_bytes(bytes(data))
    assert fingerprint.file_fingerprint(str(copy)) == edited                  # content, not location


def test_latest_is_what_the_last_run_resolved_to_not_the_newest_created():
    """A rerun that hits an older version makes it current again: downstream reads that one."""
    first = execute_stage(NUMBERS, numbers(count=20))
    newer = execute_stage(NUMBERS, numbers(count=30))
    store = open_store()
    assert store.resolve("numbers").ref == newer.ref
    again = execute_stage(NUMBERS, numbers(count=20))
    assert again.cache_hit and again.ref == first.ref
    assert store.resolve("numbers").ref == first.ref                 # not the newest created
    evens = execute_stage(EVENS, DerivedParams(use_ray=False))
    assert store.resolve(evens.ref).parents == [first.ref]
    assert store.resolve(f"numbers@{newer.version[:8]}").ref == newer.ref   # a pinned version still resolves
