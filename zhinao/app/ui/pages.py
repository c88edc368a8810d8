"""HTML of the lineage pages: server-rendered, no scripts from anywhere else (the page must work
offline), a small inline script for panning and zooming the graph."""
from __future__ import annotations

import json
from html import escape
from typing import Any
from urllib.parse import quote

from ...flows.lineage_view import human_bytes
from .layout import ROW

NODE_W, NODE_H = 230, 44
KIND_COLOURS = {"dataset": "#dbeafe", "model": "#fde68a", "tokens": "#d1fae5", "eval": "#fbcfe8",
                "report": "#e9d5ff", "audit": "#e5e7eb"}
SHOWN_SHARDS = 50
SHOWN_TABLE_ROWS = 20

STYLE = """
body{font:14px system-ui,sans-serif;margin:0;color:#111}
.damaged{background:#fee2e2;color:#991b1b;padding:8px;border:1px solid #991b1b}
header{background:#1e293b;color:#fff;padding:8px 16px;display:flex;gap:16px;align-items:center;flex-wrap:wrap}
header a{color:#fff}
header form{display:flex;gap:4px}
main{padding:12px 16px}
table{border-collapse:collapse;margin:6px 0 14px}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top;max-width:520px;overflow-wrap:anywhere}
th{background:#f1f5f9}
pre{background:#f8fafc;border:1px solid #e2e8f0;padding:8px;overflow:auto;max-height:360px}
.kind{display:inline-block;padding:1px 6px;border-radius:4px;font-size:12px}
#graph{border:1px solid #cbd5e1;height:78vh;overflow:hidden;cursor:grab;background:#fff}
#graph svg{width:100%;height:100%}
.node rect{stroke:#334155;stroke-width:1}
.node:hover rect{stroke-width:3}
.node.focus rect{stroke:#dc2626;stroke-width:3}
.edge{fill:none;stroke:#94a3b8;stroke-width:1.2}
.plots figure{display:inline-block;margin:0 12px 12px 0}
.plots img{max-width:560px;border:1px solid #e2e8f0}
.muted{color:#64748b}
.error{color:#b91c1c}
"""

PAN_ZOOM = """
const box = document.getElementById('graph'), svg = box.querySelector('svg');
let vb = svg.viewBox.baseVal, drag = null;
box.addEventListener('mousedown', e => { drag = {x: e.clientX, y: e.clientY, vx: vb.x, vy: vb.y}; });
window.addEventListener('mouseup', () => { drag = null; });
box.addEventListener('mousemove', e => {
  if (!drag) return;
  const k = vb.width / box.clientWidth;
  vb.x = drag.vx - (e.clientX - drag.x) * k; vb.y = drag.vy - (e.clientY - drag.y) * k;
});
box.addEventListener('wheel', e => {
  e.preventDefault();
  const f = e.deltaY > 0 ? 1.15 : 1 / 1.15, r = box.getBoundingClientRect();
  const px = vb.x + (e.clientX - r.left) / box.clientWidth * vb.width;
  const py = vb.y + (e.clientY - r.top) / box.clientHeight * vb.height;
  vb.x = px - (px - vb.x) * f; vb.y = py - (py - vb.y) * f; vb.width *= f; vb.height *= f;
}, {passive: false});
"""


def _e(value: Any) -> str:
    return escape(str(value))


def link(ref: str, text: str | None = None) -> str:
    return f'<a href="/version/{quote(ref)}">{_e(text or ref)}</a>'


def page(title: str, body: str, api: str | None = None, script: str = "") -> str:
    twin = f' · <a href="{_e(api)}">JSON</a>' if api else ""
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(title)} · zhinao</title>"
            f"<style>{STYLE}</style></head><body><header><b><a href='/'>zhinao lineage</a></b>"
            "<a href='/?all=1'>every version</a>"
            "<form action='/open'><input name='ref' placeholder='dataset or dataset@version' size='28'>"
            "<button>Open</button></form>"
            "<form action='/trace'><input name='doc' placeholder='document id, URL or text' size='28'>"
            f"<button>Trace</button></form>{twin}</header><main><h2>{_e(title)}</h2>{body}</main>"
            f"{f'<script>{script}</script>' if script else ''}</body></html>")


def table(rows: list[dict[str, Any]], columns: list[str] | None = None, limit: int | None = None) -> str:
    if not rows:
        return "<p class='muted'>none</p>"
    columns = columns or list(dict.fromkeys(k for r in rows for k in r))
    shown = rows if limit is None else rows[:limit]
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(r.get(c))}</td>" for c in columns) + "</tr>" for r in shown)
    more = f"<p class='muted'>... {len(rows) - len(shown):,} more</p>" if len(shown) < len(rows) else ""
    return f"<table><tr>{head}</tr>{body}</table>{more}"


class Html(str):
    """Markup made here (a link): table cells show it as is."""


def cell(value: Any) -> str:
    if isinstance(value, Html):
        return value
    if value is None:
        return "<span class='muted'>-</span>"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, (dict, list)):
        return f"<code>{_e(json.dumps(value, ensure_ascii=False, default=str))}</code>"
    return _e(value)


def kind_badge(kind: str) -> str:
    return f"<span class='kind' style='background:{KIND_COLOURS.get(kind, '#eee')}'>{_e(kind)}</span>"


# ---- the graph ---------------------------------------------------------------------------------
def graph_page(g: dict[str, Any]) -> str:
    nodes = {n["version"]: n for n in g["nodes"]}
    if not nodes:
        return page("No versions yet", "<p>The catalog is empty: run something first (<code>zhinao run data</code>).</p>",
                    api="/api/graph")
    focus = g["focus"].split("@", 1)[-1] if g["focus"] else None
    width = max(n["x"] for n in nodes.values()) + NODE_W + 20
    height = max(n["y"] for n in nodes.values()) + NODE_H + 20
    paths = []
    for e in g["edges"]:
        p, c = nodes[e["parent"]], nodes[e["child"]]
        x1, y1, x2, y2 = p["x"] + NODE_W, p["y"] + NODE_H / 2, c["x"], c["y"] + NODE_H / 2
        mid = (x1 + x2) / 2
        paths.append(f"<path class='edge' d='M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}'/>")
    boxes = []
    for v, n in nodes.items():
        focus_class = " focus" if focus and v.startswith(focus) else ""
        size = f"{n['rows']:,} rows" if n["kind"] in ("dataset", "eval", "audit") else ""
        if n["kind"] == "tokens":
            size = f"{n['rows']:,} tokens"
        boxes.append(
            f"<a href='/version/{quote(n['ref'])}'><g class='node{focus_class}' data-ref='{_e(n['ref'])}' "
            f"transform='translate({n['x']},{n['y']})'><title>{_e(n['ref'])} ({_e(n['stage'])}, "
            f"{_e(n['created_at'][:19])})</title><rect width='{NODE_W}' height='{NODE_H}' rx='6' "
            f"fill='{KIND_COLOURS.get(n['kind'], '#eee')}'/><text x='8' y='17' font-weight='bold'>"
            f"{_e(n['dataset'][:26])}@{_e(n['version'][:7])}</text><text x='8' y='35' font-size='12'>"
            f"{_e(n['kind'])}{' · ' + size if size else ''}</text></g></a>")
    legend = " ".join(kind_badge(k) for k in KIND_COLOURS)
    what = ("every version in the catalog" if g["everything"] else
            f"everything {link(g['focus'])} came from and everything made from it" if g["focus"] else
            "the latest version of each dataset, and everything upstream of them")
    body = (f"<p>{len(nodes)} versions, {len(g['edges'])} edges: {what}. Drag to pan, wheel to zoom, "
            f"click a version to open it. {legend}</p>"
            f"<div id='graph'><svg viewBox='0 0 {width} {max(height, 8 * ROW)}' "
            f"xmlns='http://www.w3.org/2000/svg'>{''.join(paths)}{''.join(boxes)}</svg></div>")
    api = "/api/graph" + ("?all=1" if g["everything"] else f"?focus={quote(g['focus'])}" if g["focus"] else "")
    return page("Version graph", body, api=api, script=PAN_ZOOM)


# ---- one version -------------------------------------------------------------------------------
def version_page(v: dict[str, Any]) -> str:
    ref = v["ref"]
    facts = [kind_badge(v["kind"]), f"stage <b>{_e(v['stage'])}</b>",
             f"{v['rows']:,} {'tokens' if v['kind'] == 'tokens' else 'rows'}" if v["rows"] else "",
             f"{len(v['shards'])} files, {human_bytes(v['bytes'])}", f"created {_e(v['created_at'][:19])}"]
    links = [f"<a href='/?focus={quote(ref)}'>graph around it</a>"]
    if v["flow_run_url"]:
        links.append(f"<a href='{_e(v['flow_run_url'])}'>its Prefect flow run</a>")
    parts = [f"<p class='damaged'><b>DAMAGED</b>: {_e('; '.join(v['damaged']))}. Recompute it: "
             f"<code>zhinao verify --recompute {_e(ref)}</code></p>"] if v.get("damaged") else []
    parts += [f"<p>{' · '.join(f for f in facts if f)}</p><p>{' · '.join(links)}</p>",
             "<h3>Parents</h3>", _refs(v["parents"]), "<h3>Children</h3>", _refs(v["children"])]
    if v["plots"]:
        parts += ["<h3>Plots</h3><div class='plots'>"] + [
            f"<figure><img src='{_e(quote(p['url']))}' alt='{_e(p['what'])}'><figcaption>{_e(p['what'])}</figcaption>"
            "</figure>" for p in v["plots"]] + ["</div>"]
    if v["drops"] or v["rows_in"] is not None:
        parts += ["<h3>Drops</h3>", f"<p>rows in: {cell(v['rows_in'])}, rows out: {v['rows']:,}</p>",
                  table([d | {"share": f"{d['share']:.2%}" if d["share"] is not None else None} for d in v["drops"]],
                        ["reason", "rows", "share"])]
    parts += ["<h3>Params</h3>", f"<pre>{_e(json.dumps(v['params'], indent=2, ensure_ascii=False, default=str))}</pre>",
              f"<p>code fingerprint <code>{_e(v['code'] or '-')}</code></p>",
              "<h3>Statistics</h3>", table([{"counter": k, "value": n} for k, n in v["counters"].items()])]
    for name, rows in v["tables"].items():
        parts += [f"<h4>{_e(name)}</h4>", table(rows if isinstance(rows, list) else [rows], limit=SHOWN_TABLE_ROWS)]
    for name, hist in v["histograms"].items():
        parts += [f"<h4>histogram {_e(name)}</h4>",
                  table([{"value": k, "count": n} for k, n in hist.items()], limit=SHOWN_TABLE_ROWS)]
    if v["schema"]:
        parts += ["<h3>Schema</h3>", table(v["schema"], ["name", "type"])]
    parts += ["<h3>Files</h3>", table(v["shards"], ["path", "rows", "bytes"], limit=SHOWN_SHARDS)]
    if v["sample"]:
        parts += ["<h3>Sample rows</h3>", table(v["sample"])]
    if v["sources_summary"]:
        parts += ["<h3>Raw sources</h3><ul>"] + [f"<li>{_e(s)}</li>" for s in v["sources_summary"]] + ["</ul>"]
    if v["other_versions"]:
        parts += ["<h3>Other versions of this dataset</h3>", table(
            [{"version": Html(link(o["ref"])), "created": o["created_at"][:19], "rows": o["rows"],
              "diff": Html(f"<a href='/diff?a={quote(o['ref'])}&b={quote(ref)}'>diff with this one</a>")}
             for o in v["other_versions"]])]
    return page(ref, "".join(parts), api=f"/api/version/{quote(ref)}")


def _refs(items: list[dict[str, Any]]) -> str:
    if not items:
        return "<p class='muted'>none</p>"
    return "<ul>" + "".join(f"<li>{link(i['ref'])} {kind_badge(i['kind'])} <span class='muted'>stage {_e(i['stage'])}"
                            f"</span></li>" for i in items) + "</ul>"


# ---- two versions ------------------------------------------------------------------------------
def diff_page(d: dict[str, Any]) -> str:
    a, b = d["a"]["ref"], d["b"]["ref"]
    rows = d["rows"]
    parts = [f"<p>stage <b>{_e(d['stage'])}</b>: a = {link(a)}, b = {link(b)}</p>",
             "<h3>Rows</h3>", table([{"": "rows in", "a": rows["in"]["a"], "b": rows["in"]["b"]},
                                     {"": "rows out", "a": rows["out"]["a"], "b": rows["out"]["b"]},
                                     {"": "bytes", "a": rows["bytes"]["a"], "b": rows["bytes"]["b"]}]),
             "<h3>Params that differ</h3>", table(d["params"], ["key", "a", "b"]),
             f"<p class='muted'>{len(d['same_params'])} params are the same</p>",
             "<h3>Code</h3>", f"<p>{'same code fingerprint' if d['code']['same'] else 'code differs'}: "
                              f"a <code>{_e(d['code']['a'])}</code>, b <code>{_e(d['code']['b'])}</code></p>",
             "<h3>Parents</h3>", "<p>same parents</p>" if d["parents"]["same"] else
             table([{"a": ", ".join(d["parents"]["a"]), "b": ", ".join(d["parents"]["b"])}]),
             "<h3>Sources that differ</h3>", table(d["sources"], ["key", "a", "b"]),
             "<h3>Counters that differ</h3>", table(d["counters"], ["key", "a", "b"]),
             "<h3>Drops that differ</h3>", table(d["dropped"], ["key", "a", "b"]),
             "<h3>Schema that differs</h3>", table(d["schema"], ["key", "a", "b"])]
    return page(f"{a} vs {b}", "".join(parts), api=f"/api/diff?a={quote(a)}&b={quote(b)}")


# ---- one document ------------------------------------------------------------------------------
def trace_link(doc: str, text: str | None = None) -> str:
    return f"<a href='/trace?doc={quote(doc)}'>{_e(text or doc)}</a>"


def trace_page(t: dict[str, Any]) -> str:
    from ..trace_view import lines, step_detail

    api = f"/api/trace?doc={quote(t['query'])}"
    if "id" not in t:     # no match, or several: the same words as the CLI, with links
        first, *rest = lines(t)
        items = "".join(f"<li>{trace_link(m['id'])} <span class='muted'>{_e(m.get('url') or '')}</span></li>"
                        for m in t["matches"])
        return page("Trace", f"<p>{_e(first)}</p>" + (f"<ul class='matches'>{items}</ul>" if rest else ""), api=api)
    rows = []
    for s in t["steps"]:
        extra = ""
        if s.get("kept_twin"):
            extra = (f"kept twin: {trace_link(s['kept_twin'])}; cluster: "
                     + ", ".join(trace_link(d) for d in s["cluster"]))
        if s.get("derived"):
            extra = "made from it: " + ", ".join(trace_link(d["id"]) for d in s["derived"])
        rows.append({"version": Html(link(s["ref"])), "status": s["status"],
                     "what": step_detail(s) if s["status"] != "derived" else "",     # links say it
                     "links": Html(extra) if extra else None})
    rows += [{"version": Html(link(tk["ref"])), "status": "tokens",
              "what": f"{tk['tokens']:,} tokens: " + ", ".join(f"{r['file']} [{r['start']:,}, {r['end']:,})"
                                                             for r in tk["ranges"][:3]), "links": None}
             for tk in t["tokens"]]
    models = "".join(f"<li>{link(m['ref'])} {'(trained on its tokens)' if m['direct'] else '(made from those)'}</li>"
                     for m in t["models"])
    body = (f"<p>{_e(lines(t)[0])}</p>" + table(rows, ["version", "status", "what", "links"])
            + (f"<h3>Models</h3><ul>{models}</ul>" if models else ""))
    return page(f"Trace of {t['id']}", body, api=api)


def error_page(title: str, message: str) -> str:
    return page(title, f"<p class='error'>{_e(message)}</p>")
