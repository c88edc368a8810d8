"""A document's trace (zhinao/tasks/provenance/trace.py) as lines a person reads: one per stage that saw
it, then its token ranges and the models trained on it."""
from __future__ import annotations

from typing import Any

FIELDS_SHOWN = 6
QUIET = {"id", "html", "timestamp"}        # at the first stage: said elsewhere, or too long


def _value(v: Any) -> str:
    text = str(v).replace("\n", " ")
    return f'"{text[:60]}..."' if isinstance(v, str) and len(text) > 60 else (f"{v:.4g}" if isinstance(v, float) else text)


def _fields(changes: dict[str, Any]) -> str:
    items = [(k, v) for k, v in changes.items() if k not in QUIET and v not in ("", None)]
    shown = ", ".join(f"{k}={_value(v)}" for k, v in items[:FIELDS_SHOWN])
    more = f", ... (+{len(items) - FIELDS_SHOWN} more, --json)" if len(items) > FIELDS_SHOWN else ""
    return (shown + more) or "unchanged"


STATUS_WORDS = {"kept": "kept", "dropped": "DROPPED", "derived": "made from it:", "gone": "gone"}


def step_line(s: dict[str, Any]) -> str:
    return f"{s['ref']:<32} {STATUS_WORDS[s['status']]:<8} {step_detail(s)}"


def step_detail(s: dict[str, Any]) -> str:
    """What happened to the document at one version (after its status word)."""
    if s["status"] == "kept":
        at = s["at"][0]
        copies = f" (+{len(s['at']) - 1} more copies)" if len(s["at"]) > 1 else ""
        made = f"; made from it: {', '.join(d['id'] for d in s['derived'])}" if s.get("derived") else ""
        return f"{at['shard']} row {at['row']}{copies}: {_fields(s['changes'])}{made}"
    if s["status"] == "dropped":
        why = s["reason"]
        if s.get("kept_twin"):
            twin = f" ({s['twin_url']})" if s.get("twin_url") else ""
            return (f"{why}: duplicates kept document {s['kept_twin']}{twin}; cluster of {len(s['cluster'])}: "
                    f"{', '.join(s['cluster'])}")
        if s.get("decided_by"):
            limit = "".join(f" (limit {k} {v})" for k, v in s.get("limit", {}).items())
            why += f": {_fields(s['decided_by'])}{limit}; signals: "
        else:
            why += ": "
        return why + _fields(s["signals"])
    if s["status"] == "derived":
        return ", ".join(f"{d['id']} ({d['column']})" for d in s["derived"])
    return s.get("note", "")


def lines(t: dict[str, Any]) -> list[str]:
    if not t["matches"]:
        return [f"no document matches {t['query']!r} (by id, URL or text) in the latest versions"]
    if "id" not in t:
        more = f" and {t['more_matches']} more" if t["more_matches"] else ""
        return ([f"{len(t['matches'])}{more} documents match {t['query']!r} (by {t['matched_by']}); trace one:"]
                + [f"  zhinao trace {m['id']}" + (f"   # {m['url']}" if m.get("url") else "") for m in t["matches"]])
    url = next((s["changes"].get("url") for s in t["steps"] if s["status"] == "kept" and s["changes"].get("url")), None)
    out = [f"document {t['id']} (matched by {t['matched_by']})" + (f": {url}" if url else "")]
    out += ["  " + step_line(s) for s in t["steps"]]
    for tk in t["tokens"]:
        ranges = ", ".join(f"{r['file']} [{r['start']:,}, {r['end']:,})" for r in tk["ranges"][:3])
        out.append(f"  {tk['ref']:<32} tokens   {tk['tokens']:,} tokens: {ranges}")
    direct = [m["ref"] for m in t["models"] if m["direct"]]
    later = [m["ref"] for m in t["models"] if not m["direct"]]
    if direct:
        out.append(f"  trained on it: {', '.join(direct)}")
    if later:
        out.append(f"  made from those: {', '.join(later)}")
    return out
