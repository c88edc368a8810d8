"""The version DAG as the catalog holds it (ids and parent->child edges): the latest versions,
reachability, and the column of each version in a left-to-right drawing or walk."""
from __future__ import annotations

from collections import defaultdict


def latest(rows: dict[str, dict], currents: dict[str, str]) -> list[str]:
    """Per dataset what a bare `dataset` resolves to: its stage's last run, else its newest version."""
    newest: dict[str, dict] = {}
    for r in rows.values():
        if r["dataset"] not in newest or r["created_at"] > newest[r["dataset"]]["created_at"]:
            newest[r["dataset"]] = r
    return [currents[d] if currents.get(d) in rows else r["version"] for d, r in newest.items()]


def adjacency(edges: list[tuple[str, str]]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(parents of each node, children of each node) from (parent, child) edges."""
    ups: dict[str, list[str]] = defaultdict(list)
    downs: dict[str, list[str]] = defaultdict(list)
    for p, c in edges:
        ups[c].append(p)
        downs[p].append(c)
    return ups, downs


def closure(start: list[str], nexts: dict[str, list[str]]) -> set[str]:
    seen, stack = set(start), list(start)
    while stack:
        for n in nexts.get(stack.pop(), []):
            if n not in seen:
                seen.add(n)
                stack.append(n)
    return seen


def layers(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Column of each node: 0 for roots, else 1 + the deepest parent's (edges are parent -> child)."""
    parents, _ = adjacency(edges)
    column: dict[str, int] = {}
    for n in nodes:             # iterative: a long pipeline must not hit the recursion limit
        stack = [n]
        while stack:
            top = stack[-1]
            if top in column:
                stack.pop()
                continue
            todo = [p for p in parents[top] if p not in column]
            if todo:
                stack.extend(todo)
                continue
            column[top] = 1 + max((column[p] for p in parents[top]), default=-1)
            stack.pop()
    return column


def latest_subgraph(catalog) -> tuple[dict[str, dict], set[str], list[tuple[str, str]]]:
    """The catalog's rows by version, the latest versions with everything upstream of them, and
    every edge between known versions."""
    rows = {r["version"]: r for r in catalog.all()}
    edges = [(p, c) for p, c in catalog.edges() if p in rows and c in rows]
    ups, _ = adjacency(edges)
    return rows, closure(latest(rows, catalog.currents()), ups), edges
