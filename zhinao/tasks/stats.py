"""Per-stage statistics: rows in/out, drops by reason, small histograms. Mergeable across tasks."""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any


class StageStats:
    def __init__(self) -> None:
        self.counters: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        self.histograms: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.tables: dict[str, list[dict[str, Any]]] = {}     # small named tables (per-category figures)

    def count(self, key: str, n: int = 1) -> None:
        self.counters[key] += n

    def drop(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] += n

    def observe(self, histogram: str, value: Any, n: int = 1) -> None:
        self.histograms[histogram][str(value)] += n

    def table(self, name: str, rows: list[dict[str, Any]]) -> None:
        self.tables[name] = rows

    def merge(self, other: "StageStats") -> "StageStats":
        self.tables.update(other.tables)
        self.counters.update(other.counters)
        self.dropped.update(other.dropped)
        for name, hist in other.histograms.items():
            self.histograms[name].update(hist)
        return self

    @property
    def total_dropped(self) -> int:
        return sum(self.dropped.values())

    def to_dict(self) -> dict[str, Any]:
        out = {
            "counters": dict(sorted(self.counters.items())),
            "dropped": dict(sorted(self.dropped.items())),
            "histograms": {k: dict(v.most_common()) for k, v in sorted(self.histograms.items())},
        }
        if self.tables:
            out["tables"] = dict(self.tables)
        return out

    def rows(self) -> list[dict[str, Any]]:
        """Flat metric/value rows for a table artifact."""
        out = [{"metric": k, "value": v} for k, v in sorted(self.counters.items())]
        out += [{"metric": f"dropped.{k}", "value": v} for k, v in sorted(self.dropped.items())]
        for name, hist in sorted(self.histograms.items()):
            out += [{"metric": f"{name}.{k}", "value": v} for k, v in hist.most_common()]
        return out


def artifact_key(name: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    return "".join(c if c.isascii() and c.isalnum() else "-" for c in name.lower())


def dropped_text(dropped: dict[str, int]) -> str:
    """`reason=count, ...` for messages, or 'none'."""
    return ", ".join(f"{k}={v}" for k, v in sorted(dropped.items())) or "none"
