"""Commits on a real S3 API (moto's server): per-attempt folders named by the manifest, a
create-if-absent manifest (first writer wins), nothing deleted once committed."""
import pyarrow as pa
import pytest

from zhinao.flows.stage import execute_stage
from zhinao.tasks.store import Manifest, Store, schema_fields, write_shard
from zhinao.tasks.home import open_store
from zhinao.tasks.store.conditional import Conditional
from tests.stages import NUMBERS, SCHEMA, NumParams


@pytest.fixture(params=["local", "s3"])
def root(request, tmp_path):
    if request.param == "local":
        return open_store(root=str(tmp_path / "store")).root
    return open_store(root=request.getfixturevalue("s3_server").bucket() + "/store").root


def test_conditional_writes_create_once_and_swap_only_unchanged(root):
    cond = Conditional(root)
    path = root.join("things", "a.json")
    first = cond.create(path, b"one")
    assert first is not None and cond.create(path, b"two") is None
    data, tag = cond.read(path)
    assert data == b"one" and tag == first
    second = cond.replace(path, b"three", tag)
    assert second is not None and cond.read(path)[0] == b"three"
    assert cond.replace(path, b"four", tag) is None           # stale tag: someone wrote since
    assert cond.delete(path, tag) is False and cond.read(path)[0] == b"three"
    assert cond.delete(path, second) is True and cond.read(path) is None


def _numbers(store: Store, rows: range, version: str = "v1") -> tuple:
    writer = store.writer("numbers", version)
    t = pa.table({"id": [f"n{i}" for i in rows], "text": [str(i) for i in rows], "n": list(rows)}, schema=SCHEMA)
    shard = write_shard(store.root, writer.staging_rel, "part-00000.parquet", t)
    return writer, Manifest(dataset="numbers", version=version, stage="numbers", params={}, code="", parents=[],
                            schema=schema_fields(SCHEMA), shards=[shard])


def test_two_writers_of_one_version_the_first_manifest_wins_and_nothing_mixes(s3_server):
    store = open_store(root=s3_server.bucket() + "/store")
    a, ma = _numbers(store, range(0, 5))
    b, mb = _numbers(store, range(100, 103))          # a different attempt at the same version
    assert a.staging != b.staging                      # each attempt writes under its own folder
    store.commit(a, ma)
    store.commit(b, mb)                                # loses: its manifest is not written
    got = store.lookup("numbers", "v1")
    assert got.attempt == a.attempt
    assert sorted(store.open_arrow(got)["n"].to_pylist()) == list(range(5))
    assert not store.root.exists(b.staging)            # the loser's files are removed
    assert store.root.exists(a.staging)


def test_a_failure_after_the_manifest_keeps_the_committed_version(s3_server, monkeypatch):
    """A catalog timeout after the manifest was written used to delete the version's prefix."""
    store = open_store(root=s3_server.bucket() + "/store")

    def timeout(*a, **k):
        raise TimeoutError("catalog did not answer")

    monkeypatch.setattr(store.catalog, "register", timeout)
    with pytest.raises(TimeoutError):
        execute_stage(NUMBERS, NumParams(use_ray=False, count=7), store=store)
    monkeypatch.undo()
    again = open_store(root=store.root.uri)
    found = [m for m in (again._read_manifest("numbers", v.base_name)
                         for v in again.root.listdir(again.root.join("numbers"))) if m]
    assert len(found) == 1 and sorted(again.open_arrow(found[0])["n"].to_pylist()) == list(range(7))
    rerun = execute_stage(NUMBERS, NumParams(use_ray=False, count=7), store=again)
    assert rerun.cache_hit and rerun.version == found[0].version


def test_a_dead_writers_attempt_is_invisible_and_removed_by_the_next_lease_holder(s3_server):
    store = open_store(root=s3_server.bucket() + "/store")
    first = execute_stage(NUMBERS, NumParams(use_ray=False, count=7), store=store)
    vid = first.version
    # a writer of another version that died after writing a shard, before its manifest
    dead, _ = _numbers(store, range(3), version="v-dead")
    assert store.lookup("numbers", "v-dead") is None and store.root.exists(dead.staging)
    next_writer = store.writer("numbers", "v-dead")
    assert next_writer.remove_abandoned() == [dead.attempt]
    assert not store.root.exists(dead.staging) and store.root.exists(next_writer.staging)
    # a committed version's files are never touched
    committed = store.writer("numbers", vid)
    assert committed.remove_abandoned() == []
    committed.abort()
    assert sorted(store.open_arrow(first.ref)["n"].to_pylist()) == list(range(7))


def test_abort_after_commit_deletes_nothing(root):
    store = open_store(root=root.uri)
    writer, m = _numbers(store, range(4))
    store.commit(writer, m)
    writer.abort()
    assert sorted(store.open_arrow("numbers@v1")["n"].to_pylist()) == list(range(4))
