"""Mixing throughput: the mix stage (measure, repeat + scatter, shuffle + write, on Ray) vs a
single-process in-memory baseline doing the same job with pyarrow: read every source, filter,
count tokens, repeat to the same epochs, one random permutation, write shards of the same size.

    python benchmarks/mix.py --docs 200000
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WORDS = ("river data model city market school energy garden music station bridge harbour library "
         "forest engine signal museum valley").split()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=200_000, help="web documents (plus 10%% each of rewrites and items)")
    ap.add_argument("--cpus", type=int, default=os.cpu_count())
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="zhinao-mix-bench-"))
    os.environ["ZHINAO_HOME"] = str(work / "home")
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from zhinao.tasks.mix.stage import MIX_STAGE1, MixParams
    from zhinao.flows.stage import execute_stage
    from zhinao.tasks.mix.tokens import count_tokens
    from zhinao.tasks.runtime.ray_exec import init_ray
    from zhinao.tasks.home import open_store

    rng = random.Random(0)

    def text(n):
        return " ".join(rng.choice(WORDS) for _ in range(n))

    n_web, n_small = args.docs, max(30, args.docs // 10)
    kinds = ["math", "code", "instruction"]
    web = pa.table({"id": [f"w{i}" for i in range(n_web)], "text": [text(rng.randint(80, 400)) for _ in range(n_web)],
                    "lang": ["en"] * n_web, "topic": [rng.choice(["sports", "games"]) for _ in range(n_web)]})
    rew = pa.table({"id": [f"r{i}" for i in range(n_small)], "text": [text(rng.randint(80, 300)) for _ in range(n_small)],
                    "lang": ["en"] * n_small})
    items = pa.table({"id": [f"i{i}" for i in range(3 * n_small)], "kind": [kinds[i % 3] for i in range(3 * n_small)],
                      "prompt": [text(20) for _ in range(3 * n_small)], "response": [text(120) for _ in range(3 * n_small)],
                      "lang": ["en"] * (3 * n_small)})
    store = open_store()
    chunks = lambda t, k: [t.slice(i, (t.num_rows + k - 1) // k) for i in range(0, t.num_rows, (t.num_rows + k - 1) // k)]
    inputs = {"rebalance": store.import_tables("rebalance", chunks(web, 8)).ref,
              "rewrite": store.import_tables("rewrite", chunks(rew, 2)).ref,
              "judge": store.import_tables("judge", chunks(items, 2)).ref}
    params = MixParams(shard_tokens=2_000_000, partitions=8)
    init_ray(args.cpus)
    start = time.perf_counter()
    r = execute_stage(MIX_STAGE1, params, inputs=inputs)
    ours = time.perf_counter() - start
    table = {row["source"]: row for row in r.stats["tables"]["mixture"]}
    tokens = sum(row["tokens"] for row in table.values())

    # baseline: everything in one process's memory
    start = time.perf_counter()
    parts = []
    for s in params.spec.sources:
        t = pa.concat_tables(store.open_arrow(inputs[s.dataset]) for _ in [0])
        for col, val in s.where.items():
            t = t.filter(pc.equal(t[col], val))
        rows = t.to_pylist()
        texts = [s.text.format(**row) for row in rows]
        toks = np.array(count_tokens(texts))
        epochs = table[s.name]["epochs"]
        full = int(epochs)
        idx = np.concatenate([np.tile(np.arange(len(texts)), full),
                              np.arange(len(texts))[np.cumsum(toks) <= (epochs - full) * toks.sum()]])
        parts.append(pa.table({"id": pa.array([rows[i]["id"] for i in idx]), "text": pa.array([texts[i] for i in idx]),
                               "mix_source": [s.name] * len(idx), "tokens": toks[idx]}))
    allrows = pa.concat_tables(parts)
    allrows = allrows.take(np.random.default_rng(0).permutation(allrows.num_rows))
    cum = np.cumsum(allrows["tokens"].to_numpy())
    out = work / "baseline"
    out.mkdir()
    cuts = np.searchsorted(cum, np.arange(params.shard_tokens, cum[-1] + params.shard_tokens, params.shard_tokens))
    prev = 0
    for k, c in enumerate(list(cuts) + [allrows.num_rows]):
        if c > prev:
            pq.write_table(allrows.slice(prev, c - prev), out / f"part-{k:05d}.parquet", compression="zstd")
            prev = c
    base = time.perf_counter() - start

    print(f"sources: {n_web} web docs, {n_small} rewrites, {3 * n_small} items -> {tokens:,} tokens "
          f"in {r.rows:,} rows ({len(store.resolve(r.ref).shards)} shards)")
    print(f"{'path':56} {'seconds':>8} {'Mtok/s':>8} {'vs baseline':>12}")
    for name, secs in (("in-memory pyarrow, one process (baseline)", base),
                       (f"mix stage, Ray ({args.cpus} CPUs)", ours)):
        print(f"{name:56} {secs:8.1f} {tokens / secs / 1e6:8.2f} {base / secs:11.2f}x")
    print("achieved vs requested shares: " + ", ".join(
        f"{n} {row['achieved_share']:.4f}/{row['share']:.4f}" for n, row in table.items()))


if __name__ == "__main__":
    main()
