"""A layered drawing of the version DAG: each version in the column of its longest path from a
root, rows ordered by the mean row of its parents (a few sweeps cut most crossings), so a
pipeline reads left to right like its stages."""
from __future__ import annotations

from collections import defaultdict

COLUMN = 270          # px between columns (a node is 230 wide)
ROW = 58              # px between rows
SWEEPS = 4


def layers(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Column of each node: 0 for roots, else 1 + the deepest parent's (edges are parent -> child)."""
    parents = defaultdict(list)
    for p, c in edges:
        parents[c].append(p)
    column: dict[str, int] = {}

    def depth(n: str) -> int:     # iterative: a long pipeline must not hit the recursion limit
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
        return column[n]

    for n in nodes:
        depth(n)
    return column


def positions(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, tuple[int, int]]:
    """(x, y) of each node's top-left corner."""
    column = layers(nodes, edges)
    by_column: dict[int, list[str]] = defaultdict(list)
    for n in nodes:                              # input order is the first order: stable drawings
        by_column[column[n]].append(n)
    parents, children = defaultdict(list), defaultdict(list)
    for p, c in edges:
        parents[c].append(p)
        children[p].append(c)
    row = {n: i for col in by_column.values() for i, n in enumerate(col)}
    for sweep in range(SWEEPS):
        down = sweep % 2 == 0
        order = sorted(by_column) if down else sorted(by_column, reverse=True)
        for col in order:
            near = parents if down else children
            def key(n: str) -> float:
                linked = [row[m] for m in near[n]]
                return sum(linked) / len(linked) if linked else row[n]
            by_column[col].sort(key=key)
            row.update({n: i for i, n in enumerate(by_column[col])})
    return {n: (column[n] * COLUMN, row[n] * ROW) for n in nodes}
