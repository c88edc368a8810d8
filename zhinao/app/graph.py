"""The README's picture of the stage graph, drawn from the declarations (Mermaid): a box per stage
in its group; a solid arrow for a dataset a stage reads, a dotted one for a version its parameters
name (a model it trains, scores or evaluates with), both with the default parameters."""
from __future__ import annotations

import re

from zhinao.tasks.registry import GROUPS, group, stages, upstream

BEGIN = "<!-- stage graph: generated from the declarations by `python -m zhinao.app.generate` -->"
END = "<!-- end of the stage graph -->"


# words Mermaid reads as its own (`end` even inside an id): an id that starts with one gets a prefix
_RESERVED = ("end", "graph", "subgraph", "flowchart", "class", "click", "style", "linkstyle", "direction")


def _node(name: str) -> str:
    node = re.sub(r"\W", "_", name)
    return "n_" + node if node.lower().startswith(_RESERVED) or node[:1] in ("o", "x") else node


def _box(name: str) -> str:
    return name if _node(name) == name else f'{_node(name)}["{name}"]'


def render() -> str:
    found = stages()
    # (group of the edge, or None across groups) -> (source, arrow) -> targets
    edges: dict[str | None, dict[tuple[str, str], list[str]]] = {}
    for name, stage in found.items():
        arrows = [(u, "-->") for u in upstream(stage)] + [(u, "-.->") for u in stage.uses(stage.params())]
        for source, arrow in arrows:
            if source in found:
                where = group(stage) if group(found[source]) == group(stage) else None
                edges.setdefault(where, {}).setdefault((source, arrow), []).append(name)

    def lines_of(where: str | None, indent: str) -> list[str]:
        return [f"{indent}{_node(s)} {arrow} {' & '.join(_node(t) for t in targets)}"
                for (s, arrow), targets in edges.get(where, {}).items()]

    out = ["```mermaid", "flowchart LR"]
    for g in GROUPS:
        members = [n for n, s in found.items() if group(s) == g]
        if members:
            out += [f'  subgraph {_node(g)}_group["{g}"]', "    " + "; ".join(_box(n) for n in members)]
            out += lines_of(g, "    ") + ["  end"]
    out += lines_of(None, "  ") + ["```"]
    return "\n".join(out) + "\n"


def into(text: str) -> str:
    """`text` (the README) with the graph between its markers replaced by the current one."""
    start, stop = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[:start] + "\n" + render() + text[stop:]
