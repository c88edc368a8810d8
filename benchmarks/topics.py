"""Topic labelling: why annotate a sample and distil. The zero-shot annotator (MiniLM embeddings +
description keywords, the baseline) vs the fastText classifier trained on its labels, on the same
documents in the same run: documents/s and accuracy against the true topics. Also the classify
stage end to end (store I/O included), in process.

    python benchmarks/topics.py --per-topic 100
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-topic", type=int, default=100, help="articles per topic and language (12 topics)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="zhinao-topics-bench-"))
    os.environ["ZHINAO_HOME"] = str(work / "home")
    import pyarrow as pa

    from flows.classify import CLASSIFY, ClassifyParams
    from flows.stage import execute_stage
    from flows.topic_model import TOPIC_MODEL, TopicModelParams
    from tasks.corpus.labelled import labelled_articles
    from tasks.semantic.encoder import resolve_model
    from tasks.store import Store
    from tasks.topics.classifier import TrainConfig, predict, train
    from tasks.topics.zeroshot import ZeroShotConfig, zero_shot

    rows = [{k: r[k] for k in ("id", "lang", "truth", "text")} for r in labelled_articles(args.per_topic)]
    random.Random(0).shuffle(rows)
    texts, langs = [r["text"] for r in rows], [r["lang"] for r in rows]

    annotator = zero_shot(ZeroShotConfig(model_path=str(resolve_model("all-MiniLM-L6-v2")), device="cpu"))
    annotator.annotate(texts[:64], langs[:64])                          # warm-up
    start = time.perf_counter()
    labels = annotator.annotate(texts, langs)
    zs_rate = len(rows) / (time.perf_counter() - start)
    labelled = [r | {"topic": t} for r, (t, _) in zip(rows, labels)]

    start = time.perf_counter()
    model = train(labelled, TrainConfig(), work)
    train_s = time.perf_counter() - start
    predict(model, texts[:64], 2000)
    start = time.perf_counter()
    preds = predict(model, texts, 2000)
    ft_rate = len(rows) / (time.perf_counter() - start)

    def acc(pred, lang):
        sel = [i for i, r in enumerate(rows) if lang in (None, r["lang"])]
        return sum(pred[i] == rows[i]["truth"] for i in sel) / len(sel)

    zs, ft = [t for t, _ in labels], [t for t, _ in preds]
    store = Store()
    docs = store.import_tables("dedup-semantic", [pa.Table.from_pylist(rows[i::4]) for i in range(4)]).ref
    ann = store.import_tables("annotate", [pa.Table.from_pylist(labelled)]).ref
    model_ref = execute_stage(TOPIC_MODEL, TopicModelParams(use_ray=False), inputs={"annotate": ann}).ref
    start = time.perf_counter()
    execute_stage(CLASSIFY, ClassifyParams(use_ray=False), inputs={"dedup-semantic": docs, "topic-model": model_ref})
    stage_rate = len(rows) / (time.perf_counter() - start)

    print(f"{len(rows)} articles (12 topics x {args.per_topic} x en/zh); fastText trained on the annotator's labels "
          f"in {train_s:.1f} s")
    print(f"{'path':58} {'docs/s':>9} {'vs baseline':>12} {'acc':>6} {'acc en':>7} {'acc zh':>7}")
    for name, rate, pred in (("zero-shot annotator: MiniLM + keywords (baseline)", zs_rate, zs),
                             ("fastText classifier (distilled), predict", ft_rate, ft),
                             ("classify stage in process (store I/O included)", stage_rate, ft)):
        print(f"{name:58} {rate:9.0f} {rate / zs_rate:11.1f}x {acc(pred, None):6.3f} {acc(pred, 'en'):7.3f} "
              f"{acc(pred, 'zh'):7.3f}")


if __name__ == "__main__":
    main()
