"""Render a version's upstream lineage as a terminal tree or as markdown."""
from __future__ import annotations

from rich.markup import escape
from rich.tree import Tree

from tasks.store import LineageNode, Manifest


def label(m: Manifest) -> str:
    when = m.created_at[:19].replace("T", " ")
    return f"{m.ref}  [{m.kind}, stage {m.stage}, {m.rows:,} rows, {len(m.shards)} shards, {when}]"


def _source_labels(m: Manifest) -> list[str]:
    return [f"source {s.get('uri') or s.get('name')}  (fingerprint {s['fingerprint']})" for s in m.sources]


def to_rich_tree(node: LineageNode) -> Tree:
    tree = Tree(f"[bold]{escape(label(node.manifest))}[/bold]")

    def add(branch: Tree, n: LineageNode) -> None:
        for src in _source_labels(n.manifest):
            branch.add(f"[dim]{escape(src)}[/dim]")
        for p in n.parents:
            add(branch.add(escape(label(p.manifest))), p)

    add(tree, node)
    return tree


def to_markdown(node: LineageNode) -> str:
    lines = [f"# Lineage of `{node.manifest.ref}`", ""]

    def add(n: LineageNode, depth: int) -> None:
        lines.append(f"{'  ' * depth}- `{label(n.manifest)}`")
        for src in _source_labels(n.manifest):
            lines.append(f"{'  ' * (depth + 1)}- {src}")
        for p in n.parents:
            add(p, depth + 1)

    add(node, 0)
    return "\n".join(lines) + "\n"
