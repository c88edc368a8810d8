"""Embedding throughput: the embed stage vs calling sentence-transformers directly on the same texts.

Baseline (named, same run): `SentenceTransformer.encode` in this process, with the batch size the
stage uses. Ours: the embed stage in-process (store I/O included) and on Ray actors.

    python benchmarks/embed.py --docs 2000
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--cpus", type=int, default=os.cpu_count())
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="zhinao-embed-bench-"))
    os.environ["ZHINAO_HOME"] = str(work / "home")
    import pyarrow as pa

    from zhinao.tasks.semantic.embed_stage import EMBED, EmbedParams
    from zhinao.flows.stage import execute_stage
    from zhinao.tasks.dedup.truthcorpus import generate
    from zhinao.tasks.runtime.ray_exec import init_ray
    from zhinao.tasks.semantic.encoder import encoder, resolve_model
    from zhinao.tasks.home import open_store

    half = args.docs // 2
    corpus_en, corpus_zh = generate(half, "en", seed=1), generate(args.docs - half, "zh", seed=2)
    ids, texts = corpus_en.ids + corpus_zh.ids, corpus_en.texts + corpus_zh.texts
    params = EmbedParams()
    texts_cut = [t[: params.max_chars] for t in texts]

    model = encoder(str(resolve_model(params.model)), "cpu")
    model.encode(texts_cut[:64], batch_size=params.batch_size)       # warm-up
    start = time.perf_counter()
    model.encode(texts_cut, batch_size=params.batch_size, normalize_embeddings=True, show_progress_bar=False)
    base = args.docs / (time.perf_counter() - start)

    step = max(1, args.docs // (4 * args.cpus))
    tables = [pa.table({"id": ids[k:k + step], "text": texts[k:k + step]}) for k in range(0, args.docs, step)]
    rows = [("sentence-transformers encode, this process (baseline)", base)]
    for name, use_ray in (("embed stage, in-process", False),
                          (f"embed stage, Ray actors ({args.cpus} CPUs, model loads included)", True)):
        os.environ["ZHINAO_HOME"] = str(work / f"home-{use_ray}")     # a fresh store: no cache hit
        if use_ray:
            init_ray(args.cpus)
        ref = open_store().import_tables("bench-docs", tables).ref
        start = time.perf_counter()
        execute_stage(EMBED, EmbedParams(use_ray=use_ray), inputs={"dedup-minhash": ref})
        rows.append((name, args.docs / (time.perf_counter() - start)))
    print(f"{args.docs} documents (half English, half Chinese), model {params.model}, batch {params.batch_size}")
    print(f"{'path':62} {'docs/s':>8} {'vs baseline':>12}")
    for name, rate in rows:
        print(f"{name:62} {rate:8.1f} {rate / base:11.2f}x")


if __name__ == "__main__":
    main()
