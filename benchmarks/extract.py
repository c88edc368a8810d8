"""Extraction quality and speed: token F1 against gold text on real article pages, per extractor.

Baselines (named, same run): trafilatura alone, resiliparse alone; ours: 'auto' (per-page choice).

    python benchmarks/extract.py [--data ../shared/data/extraction-en]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from zhinao.tasks.extract.evaluate import score
from zhinao.tasks.extract.extractors import EXTRACTORS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "extraction-en"))
    args = ap.parse_args()
    rows = []
    for name in ("trafilatura", "resiliparse", "auto"):
        start = time.perf_counter()
        s = score(EXTRACTORS[name], Path(args.data))
        rows.append((name, s, (time.perf_counter() - start) / s["pages"] * 1000))
    base = rows[0][1]["f1"]
    print(f"{'extractor':14} {'pages':>5} {'precision':>9} {'recall':>7} {'F1':>6} {'ms/page':>8} {'F1 vs trafilatura':>18}")
    for name, s, ms in rows:
        print(f"{name:14} {s['pages']:5d} {s['precision']:9.3f} {s['recall']:7.3f} {s['f1']:6.3f} {ms:8.1f} {s['f1'] / base:17.3f}x")


if __name__ == "__main__":
    main()
