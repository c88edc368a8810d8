"""The locked environments: write a lock from pip's resolution reports, and make a venv match one.

A lock is a pip requirements file with one `name==version --hash=sha256:...` line per
distribution of an environment, nothing else. Setup installs it with `--no-deps --require-hashes`
(the lock is the whole closure, so pip resolves nothing) and then removes what the lock does not
name, so a venv that setup touched holds exactly the locked set.

    python lockfile.py write OUT REPORT.json [...] [--skip NAME] [--minus LOCK] [--header TEXT]
    python lockfile.py constraints LOCK                   # the lock as pins without hashes
    python lockfile.py requires REPORT.json NAME          # NAME's requirements (no extras, no markers)
    python lockfile.py prune LOCK [LOCK ...]              # uninstall what no lock names
    python lockfile.py check LOCK [LOCK ...]              # exit 1 naming every difference

Standard library only: it runs before anything is installed.
"""
from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import re
import subprocess
import sys
import sysconfig

# The interpreter's own installer and the project itself are not locked packages.
NOT_LOCKED = {"pip", "zhinao-pipeline"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: str) -> dict[str, str]:
    """{canonical name: version} of a lock file."""
    pins = {}
    for line in open(path, encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("--"):
            continue
        spec = line.split()[0].rstrip("\\")
        name, _, version = spec.partition("==")
        if not version:
            raise SystemExit(f"{path}: '{spec}' is not pinned with ==")
        pins[canonical(name)] = version
    return pins


def _installs(report_path: str) -> list[dict]:
    with open(report_path, encoding="utf-8") as f:
        return json.load(f)["install"]


def write(out: str, reports: list[str], skip: set[str], header: str, minus: list[str]) -> None:
    """Lock what the reports install, less SKIP and less what the MINUS locks already pin."""
    for lock in minus:
        skip = skip | set(read_lock(lock))
    pins: dict[str, tuple[str, str, str]] = {}
    for report in reports:
        for item in _installs(report):
            meta = item["metadata"]
            key = canonical(meta["name"])
            if key in skip or key in NOT_LOCKED:
                continue
            hashes = (item["download_info"].get("archive_info") or {}).get("hashes") or {}
            if "sha256" not in hashes:
                raise SystemExit(f"{meta['name']} {meta['version']}: pip's report has no sha256 "
                                 f"(a folder or VCS requirement cannot be locked)")
            got = (meta["name"], meta["version"], hashes["sha256"])
            if key in pins and pins[key][1] != got[1]:
                raise SystemExit(f"{meta['name']}: resolved to {pins[key][1]} and {got[1]} "
                                 f"in two reports of one environment")
            pins[key] = got
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    for key in sorted(pins):
        name, version, sha = pins[key]
        lines.append(f"{name}=={version} \\\n    --hash=sha256:{sha}")
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{out}: {len(pins)} packages")


def requires(report: str, name: str) -> None:
    """Print NAME's unconditional requirements from a report, one per line."""
    for item in _installs(report):
        meta = item["metadata"]
        if canonical(meta["name"]) != canonical(name):
            continue
        for req in meta.get("requires_dist") or []:
            spec, _, marker = req.partition(";")
            if "extra" in marker:
                continue
            print(spec.strip() + (f"; {marker.strip()}" if marker.strip() else ""))
        return
    raise SystemExit(f"{name} is not in {report}")


def constraints(lock: str) -> None:
    for name, version in read_lock(lock).items():
        print(f"{name}=={version}")


def installed() -> dict[str, str]:
    """What the environment's site-packages holds. Not every folder on sys.path: an imported
    setuptools puts its vendored copies (more-itertools, packaging ...) there too."""
    folders = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    return {canonical(d.metadata["Name"]): d.version for d in md.distributions(path=folders)
            if d.metadata["Name"]}


def differences(locks: list[str]) -> list[str]:
    want: dict[str, str] = {}
    for lock in locks:
        want.update(read_lock(lock))
    have = installed()
    out = []
    for name, version in sorted(want.items()):
        if name not in have:
            out.append(f"missing: {name}=={version}")
        elif have[name] != version:
            out.append(f"wrong version: {name} {have[name]} (the lock has {version})")
    out += [f"not in the lock: {name}=={have[name]}"
            for name in sorted(set(have) - set(want) - NOT_LOCKED)]
    return out


def prune(locks: list[str]) -> None:
    extra = [d.split(": ", 1)[1].split("==")[0] for d in differences(locks)
             if d.startswith("not in the lock")]
    if extra:
        print(f"removing packages the lock does not name: {' '.join(extra)}")
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-q", "-y", *extra], check=True)


def check(locks: list[str]) -> None:
    diff = differences(locks)
    for line in diff:
        print(line)
    if diff:
        raise SystemExit(f"{len(diff)} difference(s) between {sys.prefix} and {' '.join(locks)}")
    print(f"{sys.prefix} holds exactly {' + '.join(locks)}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write")
    w.add_argument("out")
    w.add_argument("reports", nargs="+")
    w.add_argument("--skip", action="append", default=[])
    w.add_argument("--header", default="")
    w.add_argument("--minus", action="append", default=[])
    r = sub.add_parser("requires")
    r.add_argument("report")
    r.add_argument("name")
    sub.add_parser("constraints").add_argument("lock")
    for cmd in ("prune", "check"):
        sub.add_parser(cmd).add_argument("locks", nargs="+")
    args = ap.parse_args(argv)
    if args.cmd == "write":
        write(args.out, args.reports, {canonical(s) for s in args.skip}, args.header, args.minus)
    elif args.cmd == "requires":
        requires(args.report, args.name)
    elif args.cmd == "constraints":
        constraints(args.lock)
    elif args.cmd == "prune":
        prune(args.locks)
    else:
        check(args.locks)


if __name__ == "__main__":
    main()
