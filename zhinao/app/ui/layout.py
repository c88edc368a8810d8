"""A layered drawing of the version DAG: each version in the column of its longest path from a
root, rows ordered by the mean row of its parents (a few sweeps cut most crossings), so a
pipeline reads left to right like its stages."""
from __future__ import annotations

from collections import defaultdict

from zhinao.tasks.store.graph import adjacency, layers

COLUMN = 270          # px between columns (a node is 230 wide)
ROW = 58              # px between rows
SWEEPS = 4


def positions(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, tuple[int, int]]:
    """(x, y) of each node's top-left corner."""
    column = layers(nodes, edges)
    by_column: dict[int, list[str]] = defaultdict(list)
    for n in nodes:                              # input order is the first order: stable drawings
        by_column[column[n]].append(n)
    parents, children = adjacency(edges)
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
