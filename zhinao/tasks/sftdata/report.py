"""What sampling did to the label distributions: counts per label value before and after (a table
in the statistics), and the same as a chart, one panel per label."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..chat.schema import LABELS
from ..topics.charts import plot_distribution

REPORTED = LABELS + ("lang", "origin")


def label_table(before: list[dict], after: list[dict]) -> list[dict]:
    """{label, value, before, after, share_before, share_after} per label value."""
    rows = []
    for label in REPORTED:
        b, a = Counter(r[label] for r in before), Counter(r[label] for r in after)
        for value in sorted(b, key=lambda v: (-b[v], v)):
            rows.append({"label": label, "value": value, "before": b[value], "after": a.get(value, 0),
                         "share_before": round(b[value] / max(len(before), 1), 4),
                         "share_after": round(a.get(value, 0) / max(len(after), 1), 4)})
    return rows


def plot_labels(rows: list[dict], path: Path, title: str) -> Path:
    return plot_distribution([r for r in rows if r["label"] in LABELS], path, title, panel="label", item="value",
                             xlabel="share of the items", unit="items")
