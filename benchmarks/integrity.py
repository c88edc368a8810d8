"""What shard checksums cost, on a generated crawl of --pages documents: the document stages ingest ...
dedup-minhash run in one process (benchmarks/provenance.py's run), then per version:

- write: sha256 of the bytes each shard was written from (what write_shard adds; no second read),
- read: a reader's check of the whole version, cold (the files hashed from the page cache),
- quick: the cache hit's check (one listing: files there at their sizes),

each against the stage's own seconds in the same run (the baseline).

    python benchmarks/integrity.py --pages 100000
"""
from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.provenance import STAGES, run_pipeline, share, start  # noqa: E402


def main() -> None:
    args, work, crawl = start(__doc__, "integrity")
    versions = run_pipeline(work / "home", crawl)

    from zhinao.tasks.home import open_store
    from zhinao.tasks.store import integrity

    store = open_store()
    print(f"\nshard checksums on {args.pages:,} pages (one process, this machine):")
    print(f"{'stage':<15}{'files':>7}{'MB':>9}{'stage s':>9}{'write s':>9}{'share':>8}{'read s':>9}{'share':>8}"
          f"{'quick ms':>10}")
    total = dict(s=0.0, w=0.0, r=0.0, q=0.0, b=0)
    for name in STAGES + ("tokens-stage1",):
        m = versions[name]
        files = [store.root.join(m.folder, s.path) for s in m.shards + m.drops]
        blobs = [Path(f).read_bytes() for f in files]
        t = time.perf_counter()
        for b in blobs:
            hashlib.sha256(b).hexdigest()
        write = time.perf_counter() - t
        integrity._verified.clear()
        t = time.perf_counter()
        assert not store.verify(m, content=True, mark=False)
        read = time.perf_counter() - t
        t = time.perf_counter()
        assert not store.verify(m, content=False, mark=False)
        quick = time.perf_counter() - t
        size, secs = sum(len(b) for b in blobs), m.timings["seconds"]
        for k, v in (("s", secs), ("w", write), ("r", read), ("q", quick), ("b", size)):
            total[k] += v
        print(f"{name:<15}{len(files):>7}{size / 1e6:>9.2f}{secs:>9.1f}{write:>9.3f}{share(write, secs):>8}"
              f"{read:>9.3f}{share(read, secs):>8}{quick * 1e3:>10.1f}")
    print(f"{'all':<15}{'':>7}{total['b'] / 1e6:>9.2f}{total['s']:>9.1f}{total['w']:>9.3f}"
          f"{share(total['w'], total['s']):>8}{total['r']:>9.3f}{share(total['r'], total['s']):>8}"
          f"{total['q'] * 1e3:>10.1f}")


if __name__ == "__main__":
    main()
