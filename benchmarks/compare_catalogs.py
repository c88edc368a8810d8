"""Compare what the main job produced in two homes whose version ids differ: before and after a
refactor that changes every version id but must change nothing else.

Versions are matched by identity, not id: dataset, kind, the identities of their parents and their
params, with version ids and the home's path taken out. Each matched pair must agree on rows, drop
counts by reason and the statistics a rerun reproduces (not timings, throughput, worker counts or
file paths). Bytes are shown, not compared. Only the two catalogs are read, so any two homes do.

    python benchmarks/compare_catalogs.py HOME_BEFORE HOME_AFTER [--json OUT]

Exit status 0 when nothing but the version ids differs, 1 otherwise.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sqlite3
import sys
from collections import defaultdict
from pathlib import Path

# Stats keys (and table rows named by such a "metric") that measure the clock, the machine or
# where files went: two runs of the same code may differ there.
VOLATILE = re.compile(r"second|time|throughput|per_s(?![a-z])|mfu|peak_flops|elapsed|started|workers|pid|path|png|plot")
VERSION_ID = re.compile(r"(?<![0-9a-f])[0-9a-f]{16}(?![0-9a-f])")
REF_ID = re.compile(r"@[0-9a-f]{8,}")
KINDS_TO_JUDGE = {"model", "eval"}   # training metrics: exact on CPU with a seed, but worth a look


class Home:
    """One home's catalog, opened read-only, and every version's identity in it."""

    def __init__(self, path: str):
        path = Path(path).resolve()
        db = path if path.is_file() else path / "catalog.sqlite"   # settings.py's default place
        con = sqlite3.connect(db.as_uri() + "?mode=ro", uri=True)
        try:
            rows = con.execute(
                "SELECT version, rows, bytes, manifest FROM versions ORDER BY created_at, rowid"
            ).fetchall()
        finally:
            con.close()
        self.prefix = str(db.parent)
        self.versions = {v: {"rows": r, "bytes": b, **json.loads(m)} for v, r, b, m in rows}
        self._sigs: dict[str, str] = {}

    def sig(self, version: str) -> str:
        """Identity without ids: dataset, kind, parents' identities, normalised params."""
        if version not in self._sigs:
            self._sigs[version] = "*"   # a cycle (never expected) stops here instead of recursing
            m = self.versions[version]
            parents = sorted(self.norm(p) for p in m["parents"])
            payload = json.dumps([m["dataset"], m["kind"], parents, self.norm(m["params"])],
                                 sort_keys=True, ensure_ascii=False, default=str)
            self._sigs[version] = hashlib.sha256(payload.encode()).hexdigest()[:12]
        return self._sigs[version]

    def norm(self, value):
        """The value with this home's path and version ids replaced by what they stand for."""
        if isinstance(value, dict):
            return {self.norm(k): self.norm(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.norm(v) for v in value]
        if not isinstance(value, str):
            return value
        value = value.replace(self.prefix, "$HOME")
        # a known id becomes its identity, so refs to different versions still differ
        value = VERSION_ID.sub(lambda x: "~" + self.sig(x[0]) if x[0] in self.versions else x[0], value)
        return REF_ID.sub("@*", value)   # a ref to a version this catalog lacks

    def facts(self, version: str) -> dict:
        """Leaf path -> value of everything a rerun must reproduce."""
        m = self.versions[version]
        return {"rows": m["rows"], **flatten(self.norm(m.get("stats", {})), "stats")}


def flatten(value, path: str) -> dict:
    """Leaves by path, leaving out volatile keys and table rows whose metric is volatile."""
    if isinstance(value, dict):
        if VOLATILE.search(str(value.get("metric", "")).lower()):
            return {}
        out = {}
        for k, v in value.items():
            if not VOLATILE.search(k.lower()):
                out.update(flatten(v, f"{path}/{k}"))
        return out
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{path}[{i}]"))
        return out
    return {path: value}


def compare(before: Home, after: Home) -> dict:
    """Pair versions by identity (in creation order within one), then diff each pair's facts."""
    groups = {name: defaultdict(list) for name in ("before", "after")}
    for name, home in (("before", before), ("after", after)):
        for v in home.versions:   # already in created_at order
            groups[name][(home.versions[v]["dataset"], home.sig(v))].append(v)
    datasets: dict[str, dict] = {}
    pairs, diffs = [], []
    for key in sorted(groups["before"].keys() | groups["after"].keys()):
        dataset, sig = key
        b, a = groups["before"].get(key, []), groups["after"].get(key, [])
        row = datasets.setdefault(dataset, dict.fromkeys(
            ("before", "after", "matched", "rows_equal", "drops_equal", "stats_equal"), 0))
        row["before"] += len(b)
        row["after"] += len(a)
        for vb, va in zip(b, a):
            fb, fa = before.facts(vb), after.facts(va)
            changed = [p for p in sorted(fb.keys() | fa.keys()) if fb.get(p) != fa.get(p)]
            kind = before.versions[vb]["kind"]
            diffs += [{"dataset": dataset, "kind": kind, "signature": sig, "path": p,
                       "before": fb.get(p), "after": fa.get(p)} for p in changed]
            row["matched"] += 1
            row["rows_equal"] += "rows" not in changed
            row["drops_equal"] += not any(p.startswith("stats/dropped") for p in changed)
            row["stats_equal"] += not any(p.startswith("stats") for p in changed)
            pairs.append({"dataset": dataset, "kind": kind, "signature": sig, "before": vb,
                          "after": va, "changed": changed,
                          "bytes": [before.versions[vb]["bytes"], after.versions[va]["bytes"]]})
        for v in b[len(a):]:
            diffs.append({"dataset": dataset, "kind": before.versions[v]["kind"], "signature": sig,
                          "path": "(version)", "before": f"{dataset}@{v}", "after": None})
        for v in a[len(b):]:
            diffs.append({"dataset": dataset, "kind": after.versions[v]["kind"], "signature": sig,
                          "path": "(version)", "before": None, "after": f"{dataset}@{v}"})
    return {"before": before.prefix, "after": after.prefix, "datasets": datasets,
            "pairs": pairs, "differences": diffs}


def short(value, width: int = 60) -> str:
    """One value on one line: a long table or list would bury the other differences."""
    text = "-" if value is None else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


def report(result: dict) -> None:
    """The table per dataset, then every difference, then the count the exit status follows."""
    datasets = result["datasets"]
    print(f"before: {result['before']}\nafter:  {result['after']}\n")
    heads = ("before", "after", "matched", "rows=", "drops=", "stats=")
    print(f"{'dataset':<18} " + " ".join(f"{h:>7}" for h in heads))
    for name, d in sorted(datasets.items()):
        cells = (d[k] for k in ("before", "after", "matched", "rows_equal", "drops_equal", "stats_equal"))
        print(f"{name:<18} " + " ".join(f"{c:>7}" for c in cells))
    for side, other in (("before", "after"), ("after", "before")):
        only = sorted(n for n, d in datasets.items() if d[side] and not d[other])
        if only:
            print(f"datasets only {side}: {', '.join(only)}")
    if result["differences"]:
        print("\ndifferences (dataset, identity, field: before -> after):")
    for d in result["differences"]:
        judge = d["kind"] in KINDS_TO_JUDGE and d["path"] != "(version)"
        print(f"  {d['dataset']} {d['signature']} {d['path']}: {short(d['before'])} -> "
              f"{short(d['after'])}" + ("  [training metric: judge]" if judge else ""))
    print(f"\ndifferences: {len(result['differences'])} (besides version ids)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before", help="home folder (or its catalog.sqlite) of the run before")
    ap.add_argument("after", help="home folder (or its catalog.sqlite) of the run after")
    ap.add_argument("--json", metavar="OUT", help="write the full comparison here")
    args = ap.parse_args(argv)
    result = compare(Home(args.before), Home(args.after))
    report(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    return 0 if not result["differences"] else 1


if __name__ == "__main__":
    sys.exit(main())
