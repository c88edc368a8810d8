"""Several models side by side: each argument an eval version, or a model version (its newest eval
version), or a bare dataset name (its latest); a table of every task's headline score and of
each multiple-choice subject and perplexity group, and a grouped bar plot."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..plots import pyplot, save


def eval_of(store, ref: str):
    """The eval version `ref` names: itself, the newest evaluation of the model version it names, or
    the newest evaluation whose `model` parameter is `ref` (a folder, the default generator)."""
    from ..store import VersionNotFound

    try:
        m = store.resolve(ref)
    except VersionNotFound:
        named = [e for e in store.catalog.find("evaluate") if e.params.get("model") == ref]
        if not named:
            raise LookupError(f"{ref!r} is neither a version nor a model any evaluation names: "
                              f"zhinao run evaluate -p model={ref}") from None
        return max(named, key=lambda e: e.created_at)
    if m.kind == "eval":
        return m
    evals = [store.catalog.get(v) for v in store.catalog.children(m.version)]
    evals = sorted((e for e in evals if e is not None and e.kind == "eval"), key=lambda e: e.created_at)
    if evals:
        return evals[-1]
    source = _copied_from(store, m)
    if source is not None:      # chat-model: the chosen model's files under a stable name; its evaluation
        try:
            return eval_of(store, source)
        except LookupError:
            pass
    raise LookupError(f"{m.ref} has no evaluation yet: zhinao run evaluate -p model={m.ref}")


def _copied_from(store, m) -> str | None:
    """The model version `m` is a copy of (its one model parent, same files): an imported model, or
    the chat-model stage's choice."""
    models = _model_parents(store, m)
    if m.kind != "model" or len(models) != 1:
        return None
    source = store.resolve(models[0])
    same = sorted((s.path, s.bytes) for s in source.shards) == sorted((s.path, s.bytes) for s in m.shards)
    return source.ref if same else None


def _model_parents(store, m) -> list[str]:
    """The parents of `m` that are model versions (a parent the catalog does not know counts as m's kind)."""
    return [p for p in m.parents if (store.catalog.get(p.split("@", 1)[1]) or m).kind == "model"]


def with_ancestors(store, refs: list[str], depth: int) -> list[str]:
    """Each model version named, after up to `depth` of the models it was made from (its first
    model parent, and that one's ...), oldest first: a long-context phase after the phases and the
    model before it."""
    out = []
    for ref in refs:
        chain, m = [], store.resolve(ref)
        chain.append(m.ref)
        for _ in range(depth):
            models = _model_parents(store, m)
            if not models:
                break
            m = store.resolve(models[0])
            chain.append(m.ref)
        out += [r for r in reversed(chain) if r not in out]
    return out


def model_label(store, ev) -> str:
    models = _model_parents(store, ev)
    return models[0] if models else ev.params.get("model", ev.ref)


def _label(store, ref: str, ev) -> str:
    from ..store import VersionNotFound

    label = f"{model_label(store, ev)} ({ev.ref})"
    try:
        m = store.resolve(ref)
    except VersionNotFound:
        return label
    return f"{m.ref} = {label}" if m.kind == "model" and m.ref not in ev.parents else label


def table(store, refs: list[str]) -> tuple[list[str], list[dict[str, Any]]]:
    """(column labels, rows of {task, metric, <label>: value ...})."""
    evals = [eval_of(store, r) for r in refs]
    labels = [_label(store, r, e) for r, e in zip(refs, evals)]
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for label, ev in zip(labels, evals):
        tables = ev.stats.get("tables", {})
        for s in tables.get("scores", []):
            rows.setdefault((s["task"], s["metric"]), {"task": s["task"], "metric": s["metric"]})[label] = s["value"]
        for s in tables.get("mc", [])[1:]:
            rows.setdefault((f"mc/{s['subject']}", "acc"), {"task": f"mc/{s['subject']}", "metric": "acc"})[label] = s["acc"]
        for s in tables.get("perplexity", []):
            if s["by"] != "all":
                key = (f"perplexity/{s['by']}={s['value']}", "bits_per_byte")
                rows.setdefault(key, {"task": key[0], "metric": key[1]})[label] = s["bits_per_byte"]
        # long context: needles found by context length (a length over a model's limit has no cell),
        # and the loss by how much context a token was predicted from
        for length, score in _by_length(tables.get("niah", [])).items():
            key = (f"niah/length={length}", "score")
            rows.setdefault(key, {"task": key[0], "metric": key[1]})[label] = score
        for s in tables.get("perplexity_by_position", []):
            key = (f"position {s['positions']}", "nll_per_token")
            rows.setdefault(key, {"task": key[0], "metric": key[1]})[label] = s["nll_per_token"]
    return labels, list(rows.values())


def _by_length(cells: list[dict]) -> dict[int, float]:
    """The niah cells' mean score per context length (weighted by items)."""
    sums: dict[int, list[float]] = {}
    for c in cells:
        s = sums.setdefault(int(c["length"]), [0.0, 0.0])
        s[0], s[1] = s[0] + c["score"] * c["n"], s[1] + c["n"]
    return {length: total / n for length, (total, n) in sorted(sums.items()) if n}


def plot(labels: list[str], rows: list[dict[str, Any]], path: Path) -> Path:
    """Headline scores (one per task) as grouped bars, one colour per model."""
    plt = pyplot()
    heads = [r for r in rows if "/" not in r["task"]]
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(heads)), 4))
    width = 0.8 / max(1, len(labels))
    for k, label in enumerate(labels):
        ax.bar([i + k * width for i in range(len(heads))], [r.get(label) or 0.0 for r in heads], width,
               label=label[:60])
    ax.set_xticks([i + width * (len(labels) - 1) / 2 for i in range(len(heads))])
    ax.set_xticklabels([f"{r['task']}\n{r['metric']}" for r in heads], fontsize=8)
    ax.set_title("models side by side (bits_per_byte: lower is better)")
    ax.legend(fontsize=7)
    return save(fig, path)
