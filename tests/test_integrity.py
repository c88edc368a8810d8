"""Damage to what is stored is found, named and recoverable: checksums per file, unreadable
manifests, missing shards, names that would leave the store, literal version prefixes."""
import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pytest

from zhinao.app import cli
from zhinao.flows.retry import retryable
from zhinao.flows.stage import execute_stage
from zhinao.app.verify import health, versions
from zhinao.tasks.store import write_shard
from zhinao.tasks.home import open_store
from zhinao.tasks.store.integrity import DAMAGED, DamagedVersion
from zhinao.tasks.store.writer import StagingGone
from tests.stages import EVENS, NUMBERS, DerivedParams, NumParams


def numbers():
    return execute_stage(NUMBERS, NumParams(use_ray=False))


def folder(home: Path, ref: str) -> Path:
    dataset, version = ref.split("@")
    return home / "store" / dataset / version


def flip(path: Path, at: int | None = None, n: int = 8) -> None:
    """Change n bytes in the middle of a file, keeping its size (what bit rot or a stray write does)."""
    data = bytearray(path.read_bytes())
    at = len(data) // 2 if at is None else at
    data[at:at + n] = bytes(b ^ 0xFF for b in data[at:at + n])
    path.write_bytes(bytes(data))


def test_every_file_carries_the_checksum_of_its_bytes(zhinao_home):
    r = numbers()
    e = execute_stage(EVENS, DerivedParams(use_ray=False))     # has a drop record
    for ref in (r.ref, e.ref):
        m = open_store().resolve(ref)
        assert m.drops or ref == r.ref
        for s in m.shards + m.drops:
            data = (folder(zhinao_home, ref) / s.path).read_bytes()
            assert s.sha256 == hashlib.sha256(data).hexdigest() and s.bytes == len(data)


def test_flipped_bytes_stop_the_reader_with_the_version_the_file_and_the_way_out(zhinao_home):
    r = numbers()
    shard = open_store().resolve(r.ref).shards[1].path
    flip(folder(zhinao_home, r.ref) / shard)
    with pytest.raises(DamagedVersion) as e:
        execute_stage(EVENS, DerivedParams(use_ray=False))
    text = str(e.value)
    assert r.ref in text and shard in text and "checksum mismatch" in text
    assert f"zhinao verify --recompute {r.ref}" in text
    assert not retryable(e.value)                       # the same bytes fail every attempt
    assert open_store().catalog.find("evens") == []          # nothing was made from them
    # the finding is kept beside the manifest: listings and the stage's next run see it
    assert (folder(zhinao_home, r.ref) / DAMAGED).exists()
    assert shard in health(open_store(), versions(open_store(), ["numbers"]))[r.version]
    # the way out: the stage computes it again (same id), the damaged copy is kept aside
    again = numbers()
    assert not again.cache_hit and again.ref == r.ref
    assert list((zhinao_home / "store" / "numbers").glob(f".damaged-{r.version}-*"))
    assert not (folder(zhinao_home, r.ref) / DAMAGED).exists()
    assert execute_stage(EVENS, DerivedParams(use_ray=False)).rows == 10


def test_a_truncated_manifest_is_named_shown_as_damaged_and_recomputed(zhinao_home, capsys):
    r = numbers()
    manifest = folder(zhinao_home, r.ref) / "manifest.json"
    manifest.write_bytes(manifest.read_bytes()[:300])
    with pytest.raises(DamagedVersion, match=r"manifest\.json: unreadable"):
        open_store().resolve("numbers")
    assert cli.main(["datasets"]) == 0
    assert "DAMAGED" in capsys.readouterr().out
    assert cli.main(["verify", "numbers"]) == 1
    out = capsys.readouterr().out
    assert "1 damaged" in out and "manifest.json" in out
    again = numbers()
    assert not again.cache_hit and again.ref == r.ref
    assert open_store().resolve("numbers").rows == 20
    assert cli.main(["verify"]) == 0


def test_a_deleted_shard_is_not_a_cache_hit(zhinao_home, capsys):
    r = numbers()
    victim = folder(zhinao_home, r.ref) / open_store().resolve(r.ref).shards[0].path
    victim.unlink()
    assert cli.main(["catalog", "rebuild", "--prune"]) == 1
    assert f"{victim.name}: missing" in capsys.readouterr().out
    again = numbers()
    assert not again.cache_hit and victim.exists()
    assert sorted(open_store().open_arrow("numbers")["n"].to_pylist()) == list(range(20))


def test_verify_checks_checksums_and_quick_checks_sizes(zhinao_home, capsys):
    r = numbers()
    assert cli.main(["verify"]) == 0
    assert "0 damaged" in capsys.readouterr().out
    flip(folder(zhinao_home, r.ref) / open_store().resolve(r.ref).shards[0].path)
    assert cli.main(["verify", "--quick"]) == 0           # sizes still match
    capsys.readouterr()
    assert cli.main(["verify", "numbers"]) == 1
    assert "checksum mismatch" in capsys.readouterr().out


def test_a_task_cannot_bring_back_an_aborted_attempt(zhinao_home):
    store = open_store()
    writer = store.writer("numbers", "v1")
    writer.abort()
    with pytest.raises(StagingGone):
        write_shard(store.root, writer.staging_rel, "late.parquet", pa.table({"a": [1]}))
    assert not (zhinao_home / "store" / writer.staging_rel).exists()


@pytest.mark.parametrize("name", ["../../escaped", "/abs", "a/../../b", ".hidden", "x/./y", ""])
def test_dataset_names_never_leave_the_store(zhinao_home, name):
    with pytest.raises(ValueError, match="bad dataset name"):
        open_store().import_tables(name, [pa.table({"a": [1]})])
    assert not (zhinao_home / "escaped").exists() and not (zhinao_home.parent / "escaped").exists()


def test_version_prefixes_are_literal_text(zhinao_home):
    r = numbers()
    store = open_store()
    assert store.resolve(f"numbers@{r.version[:3]}").version == r.version
    for pattern in ("_", "%", f"{r.version[0]}_", "%%"):
        with pytest.raises(LookupError):
            store.resolve(f"numbers@{pattern}")


def test_an_empty_version_does_not_become_the_latest(zhinao_home):
    full = numbers()
    empty = execute_stage(NUMBERS, NumParams(use_ray=False, count=0))
    assert empty.rows == 0
    store = open_store()
    assert store.resolve("numbers").ref == full.ref
    assert store.resolve(empty.ref).rows == 0           # still there by its ref


def test_damage_marks_are_plain_json(zhinao_home):
    r = numbers()
    flip(folder(zhinao_home, r.ref) / open_store().resolve(r.ref).shards[0].path)
    open_store().verify(open_store().resolve(r.ref))
    mark = json.loads((folder(zhinao_home, r.ref) / DAMAGED).read_text())
    assert mark["problems"][0]["what"].startswith("checksum mismatch")


def test_the_lineage_page_and_tree_show_a_damaged_version(zhinao_home, capsys):
    from zhinao.app.ui.pages import version_page
    from zhinao.app.ui.views import version

    r = numbers()
    e = execute_stage(EVENS, DerivedParams(use_ray=False))
    (folder(zhinao_home, r.ref) / open_store().resolve(r.ref).shards[0].path).unlink()
    v = version(open_store(), r.ref)
    assert v["damaged"] and "missing" in v["damaged"][0] and v["sample"] == []
    assert "DAMAGED" in version_page(v) and f"zhinao verify --recompute {r.ref}" in version_page(v)
    assert cli.main(["lineage", e.ref]) == 0
    out = capsys.readouterr().out
    assert f"{r.ref}" in out and "DAMAGED" in out


def test_a_cache_hit_hashes_nothing(zhinao_home, monkeypatch):
    from zhinao.tasks.store import integrity

    numbers()
    execute_stage(EVENS, DerivedParams(use_ray=False))
    hashed = []
    real = integrity.sha256_file
    monkeypatch.setattr(integrity, "sha256_file", lambda root, path: hashed.append(path) or real(root, path))
    integrity._verified.clear()
    assert execute_stage(EVENS, DerivedParams(use_ray=False)).cache_hit
    assert numbers().cache_hit
    assert hashed == []


def test_a_read_error_is_not_damage(zhinao_home, monkeypatch):
    """A failed request says nothing about the bytes: raised (and retried), never marked."""
    from zhinao.tasks.store import integrity

    r = numbers()
    integrity._verified.clear()

    def timeout(root, path):
        raise OSError("AWS Error NETWORK_CONNECTION during GetObject operation: curl timed out")

    with monkeypatch.context() as m, pytest.raises(OSError, match="timed out") as e:
        m.setattr(integrity, "sha256_file", timeout)
        execute_stage(EVENS, DerivedParams(use_ray=False))
    assert retryable(e.value) and not (folder(zhinao_home, r.ref) / DAMAGED).exists()
    assert execute_stage(EVENS, DerivedParams(use_ray=False)).rows == 10


def test_a_mark_the_bytes_no_longer_bear_out_is_dropped_not_recomputed(zhinao_home):
    r = numbers()
    path = folder(zhinao_home, r.ref) / open_store().resolve(r.ref).shards[0].path
    good = path.read_bytes()
    flip(path)
    open_store().verify(open_store().resolve(r.ref))
    assert (folder(zhinao_home, r.ref) / DAMAGED).exists()
    path.write_bytes(good)                       # restored from a backup, say
    assert numbers().cache_hit
    assert not (folder(zhinao_home, r.ref) / DAMAGED).exists()


def test_an_object_store_checks_the_stored_manifest_not_a_stale_copy():
    store = open_store(root="memory://zhinao-integrity-stale")
    r = execute_stage(NUMBERS, NumParams(use_ray=False), store=store)
    stale = store.resolve(r.ref)
    store.set_aside("numbers", r.version)
    again = execute_stage(NUMBERS, NumParams(use_ray=False), store=store)
    assert not again.cache_hit and again.ref == r.ref
    fresh = store.resolve(r.ref)
    assert fresh.attempt != stale.attempt
    assert store.verify(stale) == [] and store.verify(fresh) == []


def test_names_made_before_stay_readable(zhinao_home):
    m = open_store().import_tables("hf:qwen2.5", [pa.table({"a": [1]})])
    assert open_store().resolve("hf:qwen2.5").ref == m.ref
    assert health(open_store(), versions(open_store(), [])) == {}


def test_the_data_pipeline_stops_at_a_stage_that_kept_nothing():
    from zhinao.flows.pipeline import EmptyOutput, nonempty
    from zhinao.flows.stage import StageResult

    r = StageResult(stage="quality", ref="quality@abc", version="abc", cache_hit=False, rows=0,
                    stats={"dropped": {"gopher_quality": 5}})
    with pytest.raises(EmptyOutput, match=r"quality@abc holds 0 rows \(dropped: gopher_quality=5\): the pipeline "
                                          "stops before dedup-exact"):
        nonempty(r, "dedup-exact")
    assert not retryable(EmptyOutput("x"))
    assert nonempty(r.model_copy(update={"rows": 3}), "dedup-exact") == "quality@abc"
