"""What sound raw-file fingerprints cost: the whole-content hash (first sight of a file) and the
remembered digest (later runs) against the old probe of size + first and last MiB (baseline, which
misses an edit in the middle), on files of the given sizes written to a temporary folder.

    python benchmarks/fingerprint.py --mib 64,1024
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def probe(path: Path, size: int = 1 << 20) -> str:
    """The old fingerprint: size, first and last MiB."""
    total = path.stat().st_size
    h = hashlib.sha256(str(total).encode())
    with open(path, "rb") as fh:
        h.update(fh.read(size))
        if total > size:
            fh.seek(max(size, total - size))
            h.update(fh.read(size))
    return h.hexdigest()


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mib", default="64,1024", help="file sizes in MiB")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="zhinao-fp-bench-"))
    os.environ["ZHINAO_HOME"] = str(work / "home")
    from zhinao.tasks.store.fingerprint import file_fingerprint

    print(f"{'file':>10} {'probe (baseline)':>18} {'whole hash, first':>18} {'remembered':>12} {'first vs probe':>15}")
    for mib in (int(m) for m in args.mib.split(",")):
        path = work / f"f{mib}.bin"
        with open(path, "wb") as fh:
            for _ in range(mib):
                fh.write(os.urandom(1 << 20))
        os.sync()
        base, first, again = timed(probe, path), timed(file_fingerprint, str(path)), timed(file_fingerprint, str(path))
        print(f"{mib:>7} MiB {base * 1e3:>15.2f} ms {first * 1e3:>15.1f} ms {again * 1e3:>9.2f} ms {first / base:>14.1f}x"
              f"   ({mib / first:,.0f} MiB/s)")
        path.unlink()


if __name__ == "__main__":
    main()
