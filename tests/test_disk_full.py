"""A store on a full disk: the error names the store and its free space, the attempt is not
retried, and no staging folder stays behind to keep the disk full (with and without Ray)."""
import subprocess
from pathlib import Path

import pytest

from tests.stages import BLOBS, BlobParams
from zhinao.flows import stage as stage_module
from zhinao.flows.retry import retryable
from zhinao.flows.stage import execute_stage, make_flow
from zhinao.tasks.home import open_store
from zhinao.tasks.store.writer import StoreFull


@pytest.fixture
def small_disk(tmp_path, monkeypatch):
    """A 1 MiB tmpfs as the store (needs the right to mount, which CI's container has)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    monkeypatch.setenv("ZHINAO_STORE", str(mnt / "store"))
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def leftovers(mnt: Path) -> list[str]:
    return sorted(str(p.relative_to(mnt)) for p in (mnt / "store").rglob(".tmp-*"))


@pytest.mark.parametrize("use_ray", [False, True])
def test_a_full_disk_is_named_not_retried_and_leaves_nothing(small_disk, use_ray, request):
    if use_ray:
        request.getfixturevalue("ray_local")
    with pytest.raises(StoreFull) as e:
        execute_stage(BLOBS, BlobParams(use_ray=use_ray))
    assert "is full" in str(e.value) and str(small_disk / "store") in str(e.value) and "bytes free" in str(e.value)
    assert not retryable(e.value)
    assert leftovers(small_disk) == []
    assert open_store().catalog.find("blobs") == []
    # what fits still commits on the same disk: nothing of the failed attempt holds space
    assert execute_stage(BLOBS, BlobParams(use_ray=use_ray, splits=2, kib=64)).rows == 2


def test_the_flow_does_not_retry_a_full_disk(small_disk, prefect_harness, monkeypatch):
    calls = []

    def counted(*a, **kw):
        calls.append(1)
        return execute_stage(*a, **kw)

    monkeypatch.setattr(stage_module, "execute_stage", counted)
    with pytest.raises(StoreFull):
        make_flow(BLOBS)(BlobParams(use_ray=False))
    assert len(calls) == 1 and leftovers(small_disk) == []
