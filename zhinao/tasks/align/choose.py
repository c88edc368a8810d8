"""The alignment pipeline's comparison (every model's evaluation side by side, zhinao/tasks/eval/compare.py)
and its choice of the chat model: the candidate with the best headline score of one task
(bits per byte for perplexity, lower is better; an accuracy otherwise, higher is better)."""
from __future__ import annotations

from typing import Any

from ..eval.compare import table
from ..eval.run import HEADLINE, LOWER_IS_BETTER


def compare(store, evals: dict[str, str]) -> tuple[list[str], list[dict[str, Any]]]:
    """(column labels `name (eval ref)`, rows {task, metric, label: value}) for the named evaluations."""
    labels, rows = table(store, list(evals.values()))
    names = [f"{name} ({ref})" for name, ref in evals.items()]
    renamed = [{"task": r["task"], "metric": r["metric"], **{n: r.get(old) for n, old in zip(names, labels)}}
               for r in rows]
    return names, renamed


def choose(labels: list[str], rows: list[dict[str, Any]], metric: str, candidates: list[str]) -> tuple[str, float]:
    """(label, score) of the best candidate by `metric` (an evaluated task); a tie goes to the candidate
    listed first. `candidates` are label prefixes (model names)."""
    if metric not in HEADLINE:
        raise ValueError(f"select_metric {metric!r}: one of the evaluated tasks {sorted(HEADLINE)}")
    row = next((r for r in rows if r["task"] == metric and r["metric"] == HEADLINE[metric]), None)
    if row is None:
        raise ValueError(f"select_metric {metric!r} was not evaluated (evaluation.tasks must include it)")
    scored = [(label, row[label]) for name in candidates for label in labels
              if label.split(" (", 1)[0] == name and row.get(label) is not None]
    if not scored:
        raise ValueError(f"no candidate ({', '.join(candidates)}) has a {metric} score")
    sign = 1 if metric in LOWER_IS_BETTER else -1
    best = min(range(len(scored)), key=lambda i: (sign * scored[i][1], i))
    return scored[best]


def route_weights(names: list[str], given: dict[str, float] | None) -> list[float]:
    """Interpolation weights of the routes' models, by route name (default 1 each), normalised to sum to 1."""
    unknown = set(given or {}) - set(names)
    if unknown:
        raise ValueError(f"weights for {sorted(unknown)}: the routes run are {names}")
    raw = [float((given or {}).get(n, 1.0)) for n in names]
    if sum(raw) <= 0:
        raise ValueError("interpolation weights must sum to more than 0")
    return [w / sum(raw) for w in raw]


def text_table(labels: list[str], rows: list[dict[str, Any]]) -> str:
    """The comparison as aligned text columns, one per model (by name)."""
    width = max(len(r["task"]) for r in rows)
    lines = [f"{'task':<{width}}  {'metric':<16}" + "".join(f"{lab.split(' (', 1)[0]:>15}" for lab in labels)]
    for r in rows:
        lines.append(f"{r['task']:<{width}}  {r['metric']:<16}" + "".join(
            f"{r[lab]:>15.4f}" if isinstance(r.get(lab), (int, float)) else f"{'-':>15}" for lab in labels))
    return "\n".join(lines)
