"""The fast topic classifier: fastText supervised on annotated documents, saved as a model folder
(model.ftz or model.bin, taxonomy.json, metrics.json, confusion.png) that the classify stage loads."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import shutil
import tempfile
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .features import classifier_text
from .metrics import classification_report, plot_confusion

# inputs from outside the repository that shape output (zhinao/tasks/store/external.py)
EXTERNAL = {"libraries": ("fasttext-numpy2",)}

LABEL = "__label__"
MODEL_FILES = ("model.ftz", "model.bin")     # quantized, full


@dataclass(frozen=True)
class TrainConfig:
    epoch: int = 50
    lr: float = 1.0
    dim: int = 64
    word_ngrams: int = 2
    min_count: int = 1
    bucket: int = 200_000
    loss: str = "softmax"
    seed: int = 0
    quantize: bool = True
    quantize_cutoff: int = 20_000     # words + n-gram buckets kept (by norm) in the quantized model
    max_chars: int = 2000


def held_out(doc_id: str, fraction: float, seed: int) -> bool:
    """Deterministic split by a hash of the id: the same documents are held out on every rerun."""
    h = int.from_bytes(hashlib.sha256(f"{seed}\x00{doc_id}".encode()).digest()[:8], "little")
    return h / 2**64 < fraction


def _line(topic: str, text: str, max_chars: int) -> str:
    return f"{LABEL}{topic} {classifier_text(text, max_chars)}\n"


def train(rows: list[dict], cfg: TrainConfig, workdir: Path):
    """A fastText model trained on rows {topic, text}, with one thread in a fresh process: fastText's
    training depends on the process's floating-point state (after torch inference in the same
    process it trains a different, worse model), so only a clean process gives seed-reproducible
    models."""
    import fasttext

    path = workdir / "train.txt"
    with path.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(_line(r["topic"], r["text"], cfg.max_chars))
    out = workdir / MODEL_FILES[0 if cfg.quantize else 1]
    done = subprocess.run([sys.executable, "-m", "zhinao.tasks.topics.fit", str(path), str(out), json.dumps(asdict(cfg))],
                          capture_output=True, text=True)
    if done.returncode != 0 or not out.exists():
        raise RuntimeError(f"fastText training failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    fasttext.FastText.eprint = lambda *a, **k: None
    return fasttext.load_model(str(out))


def predict(model, texts: list[str], max_chars: int) -> list[tuple[str | None, float]]:
    """(topic, probability) per text; an empty text gets (None, 0.0)."""
    lines = [classifier_text(t, max_chars) for t in texts]
    idx = [i for i, line in enumerate(lines) if line]
    out: list[tuple[str | None, float]] = [(None, 0.0)] * len(texts)
    if idx:
        labels, probs = model.predict([lines[i] for i in idx], k=1)
        for i, lab, p in zip(idx, labels, probs):
            out[i] = (lab[0].removeprefix(LABEL), float(min(1.0, np.asarray(p)[0])))
    return out


def train_and_evaluate(rows: list[dict], cfg: TrainConfig, test_fraction: float, out: Path,
                       taxonomy_file: Path) -> dict:
    """Train on the rows not held out, evaluate on the rest, write the model folder to `out`;
    returns the metrics (also written as metrics.json)."""
    if not rows:
        raise ValueError("no annotated documents to train the topic classifier on")
    test = [r for r in rows if held_out(r["id"], test_fraction, cfg.seed)]
    train_rows = [r for r in rows if not held_out(r["id"], test_fraction, cfg.seed)]
    if not train_rows:
        raise ValueError(f"all {len(rows)} annotated documents fell in the held-out split; lower test_fraction")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        model = train(train_rows, cfg, Path(tmp))
    model.save_model(str(out / MODEL_FILES[0 if cfg.quantize else 1]))
    shutil.copyfile(taxonomy_file, out / "taxonomy.json")
    pred = [p for p, _ in predict(model, [r["text"] for r in test], cfg.max_chars)]
    truth = [r["topic"] for r in test]
    report = classification_report(truth, pred)
    by_lang = {}
    for lang in sorted({r["lang"] or "und" for r in test}):
        sel = [i for i, r in enumerate(test) if (r["lang"] or "und") == lang]
        sub = classification_report([truth[i] for i in sel], [pred[i] for i in sel])
        by_lang[lang] = {"n": sub["n"], "accuracy": sub["accuracy"], "macro_f1": sub["macro_f1"]}
    metrics = {"train": len(train_rows), "held_out": len(test), "accuracy": report["accuracy"],
               "macro_f1": report["macro_f1"], "by_lang": by_lang, "labels": len(model.labels),
               "per_class": report["per_class"], "config": asdict(cfg)}
    if test:
        plot_confusion(truth, pred, out / "confusion.png",
                       f"topic classifier on {len(test)} held-out annotations: "
                       f"accuracy {report['accuracy']:.3f}, macro-F1 {report['macro_f1']:.3f}")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False))
    return metrics


@lru_cache(maxsize=2)
def load_classifier(folder: str):
    """The model of a classifier folder, once per process (workers keep it)."""
    import fasttext

    path = next((Path(folder) / f for f in MODEL_FILES if (Path(folder) / f).exists()), None)
    if path is None:
        raise FileNotFoundError(f"{folder} is not a topic classifier folder (no {' or '.join(MODEL_FILES)})")
    fasttext.FastText.eprint = lambda *a, **k: None
    return fasttext.load_model(str(path))
