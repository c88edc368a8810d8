"""MinHash dedup: documents/s per core and document-level F1 against exact 5-gram Jaccard truth.

Same corpus, same run, named baselines:
- datatrove 0.10.1's 4-stage MinHash pipeline (signatures, buckets, clusters, filter; local executor)
- datasketch's in-memory MinHashLSH (one process), with and without verifying candidates by their
  estimated Jaccard
- ours: the dedup-minhash stage on Ray, Parquet version in -> Parquet version out

Every row comes from this one invocation: a baseline not run on a corpus (too large, not installed)
prints `skipped (reason)`, and the speed columns divide by datatrove's and datasketch + verify's
rows of the same corpus.

    pip install datatrove==0.10.1 datasketch   # baselines (datatrove needs xxhash<4)
    python benchmarks/dedup.py --sizes 10000,100000,1000000 --langs en,zh
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

BANDS, ROWS, NGRAM, THRESHOLD = 14, 8, 5, 0.75


OURS = "ours: dedup-minhash on Ray"
DATASKETCH = "datasketch MinHashLSH"
DATASKETCH_VERIFY = "datasketch MinHashLSH + verify"
DATATROVE = "datatrove 4-stage MinHash"


def skip_reason(module: str, size: int, limit: int, flag: str) -> str | None:
    """Why a baseline is not run on this corpus, or None when it is."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        return f"{module} not installed: pip install -e '.[bench]'"
    if size > limit:
        return f"{size} docs > {flag} {limit}"
    return None


def write_input(corpus, folder: Path, files: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    n = len(corpus.ids)
    step = -(-n // files)
    for f in range(files):
        sl = slice(f * step, min(n, (f + 1) * step))
        pq.write_table(pa.table({"id": corpus.ids[sl], "text": corpus.texts[sl]}), folder / f"part-{f:05d}.parquet")


def ours(corpus, folder: Path, cpus: int) -> set[str]:
    from zhinao.tasks.dedup.minhash_stage import DEDUP_MINHASH, MinHashParams
    from zhinao.flows.stage import execute_stage
    from zhinao.tasks.home import open_store

    store = open_store()
    ref = store.import_tables("bench-docs", [pq.read_table(p) for p in sorted(folder.glob("*.parquet"))]).ref
    r = execute_stage(DEDUP_MINHASH, MinHashParams(num_cpus=cpus, partitions=2 * cpus, audit=True),
                      inputs={"dedup-exact": ref})
    kept = store.open_arrow(r.ref, columns=["id", "dup_cluster"])
    dropped = store.open_arrow(r.audit_ref, columns=["id"])
    return {i for i, c in zip(kept["id"].to_pylist(), kept["dup_cluster"].to_pylist()) if c} | set(
        dropped["id"].to_pylist())


def datasketch_lsh(corpus, lang: str, verify: bool) -> set[str]:
    from datasketch import MinHash, MinHashLSH

    from zhinao.tasks.dedup.truthcorpus import _units

    lsh = MinHashLSH(num_perm=BANDS * ROWS, params=(BANDS, ROWS))
    sigs = {}
    for doc_id, text in zip(corpus.ids, corpus.texts):
        u = _units(text, lang)
        m = MinHash(num_perm=BANDS * ROWS, seed=1)
        m.update_batch([" ".join(u[k:k + NGRAM]).encode() for k in range(max(1, len(u) - NGRAM + 1))])
        lsh.insert(doc_id, m)
        sigs[doc_id] = m
    pairs = set()
    for doc_id, m in sigs.items():
        for other in lsh.query(m):
            if other != doc_id and (not verify or m.jaccard(sigs[other]) >= THRESHOLD):
                pairs.add((min(doc_id, other), max(doc_id, other)))
    return {x for p in pairs for x in p}


def datatrove_minhash(folder: Path, work: Path, lang: str, cpus: int) -> set[str]:
    import json

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster,
                                                  MinhashDedupFilter, MinhashDedupSignature)
    from datatrove.pipeline.readers import ParquetReader
    from datatrove.pipeline.writers import JsonlWriter

    cfg = MinhashConfig(n_grams=NGRAM, num_buckets=BANDS, hashes_per_bucket=ROWS, seed=1)
    files = len(list(folder.glob("*.parquet")))
    language = "eng" if lang == "en" else "zho"
    logs = str(work / "logs")
    steps = [
        LocalPipelineExecutor([ParquetReader(str(folder)), MinhashDedupSignature(str(work / "sigs"), config=cfg,
                                                                                 language=language)],
                              tasks=files, workers=cpus, logging_dir=f"{logs}/1"),
        LocalPipelineExecutor([MinhashDedupBuckets(str(work / "sigs"), str(work / "buckets"), config=cfg)],
                              tasks=BANDS, workers=cpus, logging_dir=f"{logs}/2"),
        LocalPipelineExecutor([MinhashDedupCluster(str(work / "buckets"), str(work / "remove"), config=cfg,
                                                   save_cluster_size=True)], tasks=1, logging_dir=f"{logs}/3"),
        LocalPipelineExecutor([ParquetReader(str(folder)),
                               MinhashDedupFilter(str(work / "remove"), exclusion_writer=JsonlWriter(str(work / "removed")),
                                                  load_cluster_sizes=True),
                               JsonlWriter(str(work / "kept"))], tasks=files, workers=cpus, logging_dir=f"{logs}/4"),
    ]
    for step in steps:
        step.run()
    found = set()
    import gzip

    for sub, in_cluster in (("removed", lambda d: True), ("kept", lambda d: d.get("metadata", {}).get("minhash_cluster_size", 1) > 1)):
        for f in (work / sub).glob("*"):
            with gzip.open(f, "rt") if f.suffix == ".gz" else open(f) as fh:
                for line in fh:
                    d = json.loads(line)
                    if in_cluster(d):
                        found.add(d["id"])
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--langs", default="en,zh")
    ap.add_argument("--cpus", type=int, default=os.cpu_count())
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--datasketch-max", type=int, default=100_000, help="skip datasketch above this size")
    ap.add_argument("--datatrove-max", type=int, default=20_000, help="skip datatrove above this size (~150 docs/s/core)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="zhinao-dedup-bench-"))
    os.environ["ZHINAO_HOME"] = str(work / "home")
    from zhinao.tasks.dedup.truthcorpus import f1, generate
    from zhinao.tasks.runtime.ray_exec import init_ray

    init_ray(args.cpus)  # cluster start-up is not deduplication
    # the speed columns divide by these two rows of the same corpus in the same run ("-" when skipped)
    print(f"{'lang':4} {'docs':>8} {'method':34} {'seconds':>8} {'docs/s/core':>11} {'P':>6} {'R':>6} {'F1':>6}"
          f" {'vs ' + DATATROVE:>30} {'vs ' + DATASKETCH_VERIFY:>34}")
    for lang in args.langs.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            print(f"generating {size} {lang} documents with exact Jaccard truth ...", file=sys.stderr)
            corpus = generate(size, lang=lang, seed=7)
            folder = work / f"in-{lang}-{size}"
            write_input(corpus, folder, args.files)
            dt_work = work / f"dt-{lang}-{size}"
            # (name, cores, run, reason to skip or None): every method gets a row, measured or skipped
            runs = [(OURS, args.cpus, lambda: ours(corpus, folder, args.cpus), None),
                    (DATASKETCH, 1, lambda: datasketch_lsh(corpus, lang, False),
                     skip_reason("datasketch", size, args.datasketch_max, "--datasketch-max")),
                    (DATASKETCH_VERIFY, 1, lambda: datasketch_lsh(corpus, lang, True),
                     skip_reason("datasketch", size, args.datasketch_max, "--datasketch-max")),
                    (DATATROVE, args.cpus, lambda: datatrove_minhash(folder, dt_work, lang, args.cpus),
                     skip_reason("datatrove", size, args.datatrove_max, "--datatrove-max"))]
            results = {}       # full method name -> (seconds, docs/s/core, (P, R, F1)), this run only
            for name, cores, fn, reason in runs:
                if reason is None:
                    start = time.perf_counter()
                    found = fn()
                    seconds = time.perf_counter() - start
                    results[name] = (seconds, size / seconds / cores, f1(found, corpus.duplicates))
            for name, _, _, reason in runs:
                if reason is not None:
                    print(f"{lang:4} {size:8d} {name:34} skipped ({reason})")
                    continue
                seconds, rate, (p, r, f) = results[name]
                vs_dt = f"{rate / results[DATATROVE][1]:.1f}x" if DATATROVE in results else "-"
                vs_ds = f"{rate / results[DATASKETCH_VERIFY][1]:.2f}x" if DATASKETCH_VERIFY in results else "-"
                print(f"{lang:4} {size:8d} {name:34} {seconds:8.1f} {rate:11.0f} {p:6.3f} {r:6.3f} {f:6.3f}"
                      f" {vs_dt:>30} {vs_ds:>34}")
            shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
