"""Topic labelling: why annotate a sample and distil. The zero-shot annotator (MiniLM embeddings +
description keywords, the baseline) vs the fastText classifier distilled from its labels, in one
run: documents/s and accuracy against the true topics. The articles are split (stratified by topic
and language, by seed) into a train split, the only one the annotator labels for distillation and
the topic-model stage trains on, and a held-out split that every row is scored on. The classify
stage row runs the real stage (in process, store I/O included) on the held-out texts and scores the
topic column of the version it committed.

    python benchmarks/topics.py --per-topic 100
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def split_rows(rows: list[dict], fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """(train, held_out): `fraction` of each (topic, language) group held out, chosen by seed."""
    rng = random.Random(seed)
    groups = defaultdict(list)
    for r in rows:
        groups[(r["truth"], r["lang"])].append(r)
    train, test = [], []
    for key in sorted(groups):
        g = groups[key]
        rng.shuffle(g)
        k = round(len(g) * fraction)
        test += g[:k]
        train += g[k:]
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-topic", type=int, default=100, help="articles per topic and language (12 topics)")
    ap.add_argument("--test-fraction", type=float, default=0.25, help="articles held out for scoring")
    ap.add_argument("--seed", type=int, default=0, help="seed of the train / held-out split")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="zhinao-topics-bench-"))
    os.environ["ZHINAO_HOME"] = str(work / "home")
    import pyarrow as pa

    from zhinao.tasks.topics.classify_stage import CLASSIFY, ClassifyParams
    from zhinao.flows.stage import execute_stage
    from zhinao.tasks.topics.model_stage import TOPIC_MODEL, TopicModelParams
    from zhinao.tasks.corpus.labelled import labelled_articles
    from zhinao.tasks.semantic.encoder import resolve_model
    from zhinao.tasks.home import open_store
    from zhinao.tasks.topics.classifier import load_classifier, predict
    from zhinao.tasks.topics.zeroshot import ZeroShotConfig, zero_shot

    rows = [{k: r[k] for k in ("id", "lang", "truth", "text")} for r in labelled_articles(args.per_topic)]
    train_rows, test = split_rows(rows, args.test_fraction, args.seed)
    test_texts, test_langs = [r["text"] for r in test], [r["lang"] for r in test]

    annotator = zero_shot(ZeroShotConfig(model_path=str(resolve_model("all-MiniLM-L6-v2")), device="cpu"))
    # the teacher labels the train split only (this also warms it up); its timed run is on held-out texts
    train_labels = annotator.annotate([r["text"] for r in train_rows], [r["lang"] for r in train_rows])
    labelled = [r | {"topic": t} for r, (t, _) in zip(train_rows, train_labels)]
    start = time.perf_counter()
    zs = [t for t, _ in annotator.annotate(test_texts, test_langs)]
    zs_rate = len(test) / (time.perf_counter() - start)

    # distil through the topic-model stage: the committed model is the one the classify stage loads
    store = open_store()
    ann = store.import_tables("annotate", [pa.Table.from_pylist(labelled)]).ref
    start = time.perf_counter()
    model_ref = execute_stage(TOPIC_MODEL, TopicModelParams(use_ray=False), inputs={"annotate": ann}).ref
    train_s = time.perf_counter() - start
    folder = store.model_path(model_ref)
    fit = json.loads((folder / "metrics.json").read_text())
    model = load_classifier(str(folder))
    predict(model, [r["text"] for r in train_rows[:64]], 2000)          # warm-up, not on held-out texts
    start = time.perf_counter()
    ft = [t for t, _ in predict(model, test_texts, 2000)]
    ft_rate = len(test) / (time.perf_counter() - start)

    docs = store.import_tables("dedup-semantic", [pa.Table.from_pylist(test[i::4]) for i in range(4)]).ref
    start = time.perf_counter()
    result = execute_stage(CLASSIFY, ClassifyParams(use_ray=False),
                           inputs={"dedup-semantic": docs, "topic-model": model_ref})
    stage_rate = len(test) / (time.perf_counter() - start)
    if result.cache_hit:
        raise RuntimeError(f"{result.ref} was a cache hit: the stage row would time nothing")
    out = store.open_arrow(result.ref, columns=["id", "topic"]).to_pylist()
    committed = {r["id"]: r["topic"] for r in out}
    if len(committed) != len(test):
        raise RuntimeError(f"classify committed {len(committed)} rows for {len(test)} held-out documents")
    stage = [committed[r["id"]] for r in test]

    def acc(pred, lang):
        sel = [i for i, r in enumerate(test) if lang in (None, r["lang"])]
        return sum(pred[i] == test[i]["truth"] for i in sel) / len(sel)

    print(f"{len(rows)} articles (12 topics x {args.per_topic} x en/zh), split by seed {args.seed} stratified by "
          f"topic and language: {len(train_rows)} train, {len(test)} held out; every row scored on the "
          f"{len(test)} held-out articles")
    print(f"topic-model stage: fastText trained on the annotator's labels of {fit['train']} train articles "
          f"(it holds out {fit['held_out']} more for its own metrics) in {train_s:.1f} s")
    print(f"{'path':58} {'docs/s':>9} {'vs baseline':>12} {'acc':>6} {'acc en':>7} {'acc zh':>7}")
    for name, rate, pred in (("zero-shot annotator: MiniLM + keywords (baseline)", zs_rate, zs),
                             ("fastText classifier (distilled), predict", ft_rate, ft),
                             ("classify stage in process, committed topic column", stage_rate, stage)):
        print(f"{name:58} {rate:9.0f} {rate / zs_rate:11.1f}x {acc(pred, None):6.3f} {acc(pred, 'en'):7.3f} "
              f"{acc(pred, 'zh'):7.3f}")


if __name__ == "__main__":
    main()
