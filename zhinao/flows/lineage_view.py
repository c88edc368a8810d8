"""A version's lineage graph as a terminal tree or as markdown that reads: each version is expanded
once (later mentions point back to it), raw sources are summarised per version (count, size, the
first names) unless asked for, and the tree can stop at a depth with a count of what lies beyond."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from rich.markup import escape
from rich.tree import Tree

from zhinao.tasks.store import LineageNode, Manifest

NAMES_SHOWN = 3          # source names in a summary line


def label(m: Manifest) -> str:
    what = [m.kind] + ([f"stage {m.stage}"] if m.stage != m.dataset else [])
    what += [f"{m.rows:,} rows"] if m.rows or m.kind in ("dataset", "eval") else []
    what += [f"{len(m.shards)} {'shard' if len(m.shards) == 1 else 'shards'}", m.created_at[:16].replace("T", " ")]
    return f"{m.ref}  [{', '.join(what)}]"


@dataclass
class Line:
    depth: int
    text: str
    style: str            # node | seen | source | more


def _size(uri: str) -> int | None:
    path = Path(uri.removeprefix("file://")) if "://" not in uri or uri.startswith("file://") else None
    try:
        return path.stat().st_size if path is not None and path.is_file() else None
    except OSError:
        return None


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


SETTINGS = ("library", "env", "resolved")   # sources that are a name and a value, not files


def source_lines(m: Manifest, listed: bool) -> list[str]:
    """Every source (`listed`), or a summary: the libraries, variables and resolved settings with
    their values on one line, then per folder of files their count, total size and first names."""
    if listed:
        return [f"source {s.get('uri') or s.get('name')}  (fingerprint {s['fingerprint']})" for s in m.sources]
    settings, files = [], {}
    for s in m.sources:
        name = str(s.get("name") or s.get("uri"))
        head, _, rest = name.partition("/")
        if head in SETTINGS and rest:
            settings.append(f"{rest} {s.get('fingerprint') or '(unset)'}")
        else:
            files.setdefault(str(Path(name).parent) if "/" in name else "", []).append(s)
    out = [", ".join(settings)] if settings else []
    for folder, members in files.items():
        names = [Path(str(s.get("name") or s.get("uri"))).name for s in members]
        known = [x for x in (_size(str(s.get("uri") or "")) for s in members) if x is not None]
        size = f", {human_bytes(sum(known))}" if known else ""
        more = f", ... ({len(names) - NAMES_SHOWN} more)" if len(names) > NAMES_SHOWN else ""
        count = "1 file" if len(names) == 1 else f"{len(names)} files"
        out.append(f"{folder + ': ' if folder else ''}{count}{size}: {', '.join(names[:NAMES_SHOWN])}{more}")
    return out


def _reachable(node: LineageNode) -> dict[str, LineageNode]:
    out, stack = {}, [node]
    while stack:
        n = stack.pop()
        if n.manifest.version not in out:
            out[n.manifest.version] = n
            stack.extend(n.parents)
    return out


def lines(node: LineageNode, sources: bool = False, depth: int | None = None, word: str = "upstream",
          damaged: dict[str, str] | None = None) -> list[Line]:
    """The tree from `node` along `node.parents` (for a downstream graph: its children); versions
    in `damaged` (version -> what is wrong) say so."""
    damaged = damaged or {}
    out: list[Line] = []
    shown: set[str] = set()

    def visit(n: LineageNode, d: int) -> None:
        m = n.manifest
        if m.version in shown:
            out.append(Line(d, f"{m.ref}  (shown above)", "seen"))
            return
        shown.add(m.version)
        out.append(Line(d, f"{label(m)}  DAMAGED: {damaged[m.version]}", "damaged") if m.version in damaged
                   else Line(d, label(m), "node"))
        if depth is not None and d >= depth and n.parents:
            beyond = len(set(_reachable(n)) - {m.version} - shown)
            if beyond:
                out.append(Line(d + 1, f"... {beyond} more {word} version(s): zhinao lineage {m.ref}"
                                       f"{' --down' if word == 'downstream' else ''}", "more"))
            return
        out.extend(Line(d + 1, s, "source") for s in source_lines(m, sources))
        for p in n.parents:
            visit(p, d + 1)

    visit(node, 0)
    return out


def summary(node: LineageNode, word: str = "upstream") -> str:
    graph = _reachable(node)
    others = [n.manifest for v, n in graph.items() if v != node.manifest.version]
    kinds = Counter(m.kind for m in others)
    files = {(s.get("uri") or s.get("name")) for n in graph.values() for s in n.manifest.sources}
    parts = ", ".join(f"{c} {k}" for k, c in sorted(kinds.items(), key=lambda kv: -kv[1]))
    return (f"{node.manifest.ref}: {len(others)} {word} version(s) ({parts or 'none'}) from "
            f"{len({m.stage for m in others})} stage(s); {len(files)} distinct raw source(s)")


_STYLE = {"node": "{}", "damaged": "[red]{}[/red]", "seen": "[dim]{}[/dim]", "source": "[dim]{}[/dim]", "more": "[italic]{}[/italic]"}


def to_rich_tree(node: LineageNode, sources: bool = False, depth: int | None = None, word: str = "upstream",
                 damaged: dict[str, str] | None = None) -> Tree:
    rows = lines(node, sources, depth, word, damaged)
    tree = Tree(_STYLE[rows[0].style].format(f"[bold]{escape(rows[0].text)}[/bold]"))
    stack = [tree]
    for row in rows[1:]:
        del stack[row.depth:]
        stack.append(stack[-1].add(_STYLE[row.style].format(escape(row.text))))
    return tree


def to_markdown(node: LineageNode, sources: bool = True) -> str:
    out = [f"# Lineage of `{node.manifest.ref}`", "", summary(node), ""]
    for row in lines(node, sources):
        text = f"`{row.text}`" if row.style in ("node", "seen") else row.text
        out.append(f"{'  ' * row.depth}- {text}")
    return "\n".join(out) + "\n"
