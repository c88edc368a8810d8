"""Classifier quality: accuracy, per-class precision/recall/F1, macro-F1 and a confusion plot."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..plots import pyplot, save


def classification_report(truth: list[str], pred: list[str]) -> dict:
    """Accuracy, macro-F1 (over the classes that occur in truth or predictions) and per-class rows."""
    if len(truth) != len(pred):
        raise ValueError(f"{len(truth)} labels but {len(pred)} predictions")
    tp, fp, fn = Counter(), Counter(), Counter()
    for t, p in zip(truth, pred):
        if t == p:
            tp[t] += 1
        else:
            fp[p] += 1
            fn[t] += 1
    classes = sorted(set(truth) | set(pred))
    rows = []
    for c in classes:
        prec = tp[c] / (tp[c] + fp[c]) if tp[c] + fp[c] else 0.0
        rec = tp[c] / (tp[c] + fn[c]) if tp[c] + fn[c] else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        rows.append({"topic": c, "support": tp[c] + fn[c], "precision": round(prec, 4), "recall": round(rec, 4),
                     "f1": round(f1, 4)})
    n = len(truth)
    return {"n": n, "accuracy": round(sum(tp.values()) / n, 4) if n else 0.0,
            "macro_f1": round(sum(r["f1"] for r in rows) / len(rows), 4) if rows else 0.0, "per_class": rows}


def plot_confusion(truth: list[str], pred: list[str], path: Path, title: str) -> Path:
    plt = pyplot()
    import numpy as np

    classes = sorted(set(truth) | set(pred))
    index = {c: i for i, c in enumerate(classes)}
    m = np.zeros((len(classes), len(classes)), dtype=int)
    for t, p in zip(truth, pred):
        m[index[t], index[p]] += 1
    size = 2.5 + 0.32 * len(classes)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=7)
    ax.set_yticks(range(len(classes)), classes, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("annotated")
    for i in range(len(classes)):
        for j in range(len(classes)):
            if m[i, j]:
                ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=6,
                        color="white" if m[i, j] > m.max() / 2 else "black")
    ax.set_title(title, fontsize=9)
    return save(fig, path)
