"""`zhinao`: the single entry point. Each subcommand is a thin shell over a flow or the store."""
from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from zhinao.model.launch import free_port, terminate

from . import reaper, stopping
from .api_server import ServerError, require_answer, run_api
from .prefect_env import DEFAULT_PORT, STATE_FILE, configure, healthy, server_url, use_home_server
from ..flows.links import UI_PORT

console = Console()
REPO = Path(__file__).resolve().parents[2]


_REAPER = None     # the reaper of this command's processes (zhinao/app/reaper.py), when it has one


def with_api(prepare):
    """Commands that run flows get their Prefect API first (Prefect reads it at import). `prepare`
    checks the arguments and returns what to run: a mistake fails before the server is waited for."""
    @functools.wraps(prepare)
    def run(args: argparse.Namespace) -> int:
        with run_api() as ready:
            from prefect import tags
            from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

            go = prepare(args)      # the flows' imports overlap the server's start
            ready()
            reaper.use_api(_REAPER, os.environ["PREFECT_API_URL"])
            # Heartbeats tell a worker's crashed runs apart; a command in the foreground says so by
            # its exit. Prefect 3.8's heartbeat thread sleeps in 1 s steps and is joined at the end
            # of every flow run: ~0.8 s per stage, most of a cached rerun of the pipelines.
            # The tag names this process: its reaper marks the runs crashed if it is killed.
            with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}), tags(reaper.driver_tag()):
                return go()
    return run


@with_api
def cmd_run(args: argparse.Namespace):
    from .params import parse_params
    from ..flows.registry import targets

    known = targets()
    if args.target not in known:
        raise LookupError(f"unknown stage or pipeline {args.target!r}; known: {', '.join(known)}")
    target = known[args.target]
    params = parse_params(target.params, args.param or [])
    kwargs = {"params": params}
    if args.input:
        if target.kind != "stage":
            raise ValueError("--input applies to a single stage")
        kwargs["inputs"] = parse_inputs(args.input, target, params)

    def go() -> int:
        result = target.flow(**kwargs)
        results = result if isinstance(result, list) else [result]
        for r in results:
            what = "cache hit" if r.cache_hit else "computed"
            size = {"model": "model", "tokens": f"{r.rows:,} tokens"}.get(r.kind, f"{r.rows:,} rows")
            console.print(f"[bold]{r.ref}[/bold]  {what}, {size}"
                          + (f", dropped {r.stats.get('dropped')}" if r.stats.get("dropped") else "")
                          + (f", audit {r.audit_ref}" if r.audit_ref else ""))
        return 0
    return go


def parse_inputs(pairs: list[str], target, params) -> dict[str, str]:
    """--input INPUT=DATASET[@VERSION] pairs, checked against what the stage reads and the store holds."""
    from zhinao.tasks.home import open_store

    from ..flows.stage import input_names

    stage = getattr(target.flow, "stage", None)
    reads = input_names(stage, params, {}) if stage is not None else ()
    out = {}
    for pair in pairs:
        name, sep, ref = pair.partition("=")
        if not sep or not name or not ref:
            raise ValueError(f"--input {pair!r}: expected INPUT=DATASET[@VERSION] ({target.name} reads: "
                             f"{', '.join(reads) or 'no inputs'})")
        if name in out:
            raise ValueError(f"--input {name!r} is given twice ({out[name]}, {ref})")
        out[name] = ref
    if stage is not None:
        input_names(stage, params, out)
    store = open_store()
    for ref in out.values():
        store.resolve(ref)          # an unknown dataset or version fails here, before any flow run
    return out


def cmd_datasets(args: argparse.Namespace) -> int:
    from zhinao.tasks.home import open_store

    from .verify import health, versions

    store = open_store()
    rows = store.catalog.all()
    damaged = health(store, versions(store, []))
    for r in rows:
        r["damaged"] = damaged.get(r["version"], "")
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = Table(title="Dataset versions")
    for col in ("dataset", "version", "kind", "rows", "bytes", "created", "state"):
        # a version id is copied from here: never cut, whatever the terminal's width
        table.add_column(col, justify="right" if col in ("rows", "bytes") else "left",
                         no_wrap=col == "version", min_width=16 if col == "version" else None)
    for r in rows:
        table.add_row(r["dataset"], r["version"], r["kind"], f"{r['rows']:,}", f"{r['bytes']:,}",
                      r["created_at"][:19].replace("T", " "),
                      f"[red]DAMAGED: {escape(r['damaged'])}[/red]" if r["damaged"] else "ok")
    console.print(table if rows else "no dataset versions yet: try `zhinao run data`")
    if damaged:
        console.print(f"{len(damaged)} damaged version(s): `zhinao verify --recompute DATASET@VERSION` recomputes one")
    return 0


def cmd_cluster_check(args: argparse.Namespace) -> int:
    from zhinao.tasks.runtime.cluster_check import check_cluster, problem_count

    result = check_cluster(args.timeout)
    if args.json:
        print(json.dumps(result, indent=2))
        return 1 if problem_count(result) else 0
    console.print(f"shared with every worker: {', '.join(result['env'])}", soft_wrap=True)
    for line in result["driver"]:
        console.print(f"driver: {line}", soft_wrap=True, markup=False)
    for node, report in result["nodes"].items():
        found = [(check, p) for check, items in report["problems"].items() for p in items]
        console.print(f"node {report['address']} ({report['host']}, {node[:12]}): "
                      + ("ok (env, store, prefect, python)" if not found else f"{len(found)} problem(s)"),
                      soft_wrap=True, markup=False)
        for check, p in found:
            console.print(f"  {check}: {p}", soft_wrap=True, markup=False)
    count = problem_count(result)
    console.print(f"{len(result['nodes'])} node(s), {count} problem(s)")
    return 1 if count else 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Check versions (all, or those named) file by file; with --recompute, run the stage of each
    damaged one again."""
    import time

    from zhinao.tasks.home import open_store

    from .verify import check, versions

    store = open_store()
    started = time.time()
    checked = check(store, versions(store, args.refs), content=not args.quick)
    bad = [c for c in checked if c.problems]
    what = "sizes" if args.quick else "checksums"
    console.print(f"checked {len(checked)} version(s), {sum(c.files for c in checked):,} files, "
                  f"{sum(c.bytes for c in checked):,} bytes ({what}) in {time.time() - started:.1f} s: "
                  f"{len(bad)} damaged", soft_wrap=True)
    for c in bad:
        console.print(f"[red]DAMAGED[/red] {c.manifest.ref}", soft_wrap=True)
        for p in c.problems:
            console.print(f"  {escape(str(p))}", soft_wrap=True, highlight=False)
    if bad and not args.recompute:
        console.print("recompute one: zhinao verify --recompute DATASET@VERSION (runs its stage again with the "
                      "inputs and parameters it was made with)", soft_wrap=True)
    if bad and args.recompute:
        args.damaged = [c.manifest for c in bad]
        return _recompute(args)
    return 1 if bad else 0


@with_api
def _recompute(args: argparse.Namespace):
    from zhinao.tasks.home import open_store

    from .verify import recompute, recompute_args

    store = open_store()
    # upstream first: a version is always created after the versions it was made from
    damaged = sorted(args.damaged, key=lambda m: m.created_at)
    for m in damaged:
        recompute_args(store, m)      # every one can be run again, or nothing starts

    def go() -> int:
        failed = 0
        for m in damaged:
            try:
                recompute(store, m, lambda line: console.print(line, soft_wrap=True))
            except Exception as e:      # the others may still be recomputed
                failed += 1
                console.print(f"[red]{escape(m.ref)}: not recomputed[/red]: {escape(str(e).splitlines()[0])}",
                              soft_wrap=True)
        return 1 if failed else 0
    return go


def cmd_lineage(args: argparse.Namespace) -> int:
    from zhinao.tasks.home import open_store

    from ..flows.lineage_view import summary, to_rich_tree

    store = open_store()
    ref = args.ref
    if ref is None:  # the newest version in the catalog: what the last run produced
        newest = store.catalog.all()
        if not newest:
            raise LookupError("the catalog is empty: run something first (`zhinao run data`)")
        latest = max(newest, key=lambda r: r["created_at"])
        ref = f"{latest['dataset']}@{latest['version']}"
    node = store.lineage(ref)
    if args.direction in ("up", "both"):
        damaged = _damaged_in(store, node)
        console.print(to_rich_tree(node, sources=args.sources, depth=args.depth, damaged=damaged))
        console.print(summary(node))
    if args.direction in ("down", "both"):
        down = store.downstream_graph(node.manifest)
        damaged = _damaged_in(store, down)
        console.print(to_rich_tree(down, sources=args.sources, depth=args.depth, word="downstream", damaged=damaged))
        console.print(summary(down, word="downstream"))
    if args.depth is not None:
        console.print(f"the whole graph: zhinao lineage {node.manifest.ref}"
                      f"{'' if args.direction == 'up' else ' --direction ' + args.direction}")
    return 0


def _damaged_in(store, node) -> dict[str, str]:
    from ..flows.lineage_view import _reachable
    from .verify import health

    found = health(store, [n.manifest for n in _reachable(node).values()])
    for version, what in found.items():
        console.print(f"[red]DAMAGED[/red] {version}: {escape(what)}", soft_wrap=True)
    return found


def cmd_trace(args: argparse.Namespace) -> int:
    from zhinao.tasks.provenance.trace import dropped_for, trace
    from zhinao.tasks.home import open_store

    from .trace_view import lines

    store = open_store()
    if (args.doc is None) == (args.reason is None):
        raise ValueError("give a document (id, URL or text) or --reason REASON, not both")
    doc = args.doc if args.reason is None else dropped_for(store, args.reason)
    if doc is None:
        raise LookupError(f"the latest versions dropped no document for {args.reason!r} (see the drops on "
                          "`zhinao ui` version pages, or `zhinao run ... -p audit=true`)")
    result = trace(store, doc)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    else:
        for line in lines(result):
            console.print(line, soft_wrap=True, markup=False, highlight=False)
    return 0 if result["matches"] else 2


def cmd_compare(args: argparse.Namespace) -> int:
    from zhinao.tasks.eval.compare import plot, table, with_ancestors
    from zhinao.tasks.settings import get_settings
    from zhinao.tasks.home import open_store

    store = open_store()
    if args.ancestors:
        args.refs = with_ancestors(store, args.refs, args.ancestors)
    labels, rows = table(store, args.refs)
    if args.json:
        print(json.dumps({"models": labels, "rows": rows}, indent=2, default=str))
        return 0
    out = Table(title="evaluations side by side")
    out.add_column("task")
    out.add_column("metric")
    for label in labels:
        out.add_column(label, justify="right")
    for r in rows:
        out.add_row(r["task"], r["metric"], *(f"{r[label]:.4f}" if isinstance(r.get(label), (int, float)) else "-"
                                              for label in labels))
    console.print(out)
    png = plot(labels, rows, get_settings().reports / f"compare-{'-'.join(a.replace('@', '_') for a in args.refs)[:120]}.png")
    console.print(f"plot: {png}", soft_wrap=True)
    return 0


def cmd_catalog_rebuild(args: argparse.Namespace) -> int:
    from zhinao.tasks.home import open_store
    from zhinao.tasks.store.rebuild import rebuild_catalog

    store = open_store()
    done = rebuild_catalog(store, prune=args.prune)
    console.print(f"catalog {store.catalog.path} from {store.root.uri}: {len(done.added)} version(s) added, "
                  f"{done.known} already known" + (f", {len(done.removed)} removed (files gone)" if args.prune else ""),
                  soft_wrap=True)
    for ref in done.added:
        console.print(f"  + {ref}")
    for ref in done.removed:
        console.print(f"  - {ref}")
    if done.incomplete:
        console.print(f"{len(done.incomplete)} version folder(s) without a manifest (an attempt that never committed, "
                      f"invisible to readers): " + ", ".join(done.incomplete[:10]), soft_wrap=True)
    for bad in done.unreadable:
        console.print(f"[red]unreadable manifest[/red] {bad}", soft_wrap=True)
    for bad in done.damaged:
        console.print(f"[red]DAMAGED[/red] {escape(bad)}", soft_wrap=True)
    if done.unreadable or done.damaged:
        console.print("see `zhinao verify`; `zhinao verify --recompute DATASET@VERSION` recomputes one", soft_wrap=True)
    return 1 if done.unreadable or done.damaged else 0


def cmd_sample_corpus(args: argparse.Namespace) -> int:
    from zhinao.tasks.corpus.generate import generate
    from zhinao.tasks.settings import get_settings

    out = generate(args.out or get_settings().sample_corpus, pages=args.pages, files=args.files, seed=args.seed)
    console.print(f"sample crawl written to {out}")
    return 0


def require_free_port(host: str, port: int, what: str, command: str) -> None:
    try:
        with socket.socket() as s:
            # as the servers themselves bind: a port whose last connections sit in TIME-WAIT is free
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except OSError:
        raise ServerError(f"port {port} is in use by another program: start {what} on a free one, "
                          f"e.g. `{command} --port {free_port()}`") from None


def cmd_server(args: argparse.Namespace) -> int:
    """A Prefect server (UI + API) on 127.0.0.1 over the SQLite database under ZHINAO_HOME: it shows
    every run made from this home, whichever server recorded it."""
    home = Path(os.environ["PREFECT_HOME"])
    url = server_url(args.port)
    if healthy(url):
        raise ServerError(f"a Prefect server already runs on port {args.port} (UI http://127.0.0.1:{args.port}): "
                          "use it, stop it first, or start another with `zhinao server --port N`")
    require_free_port("127.0.0.1", args.port, "the server", "zhinao server")
    state = home / STATE_FILE
    state.write_text(json.dumps({"api_url": url, "pid": os.getpid()}))     # a dead pid: not announced
    env = os.environ | {"PREFECT_SERVER_API_HOST": "127.0.0.1", "PREFECT_SERVER_API_PORT": str(args.port)}
    env.pop("PREFECT_API_URL", None)
    console.print(f"Prefect server: UI http://127.0.0.1:{args.port}, API {url}, home {home}")
    proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                             "--port", str(args.port)], env=env, start_new_session=True)
    try:
        return proc.wait()
    finally:
        terminate(proc, grace_s=10)
        state.unlink(missing_ok=True)


def cmd_ui(args: argparse.Namespace) -> int:
    """The lineage web page over this home's store and catalog (no Prefect server needed)."""
    import uvicorn

    from zhinao.tasks.settings import get_settings

    from .ui.app import create_app
    from ..flows.links import ui_url

    require_free_port(args.host, args.port, "the page", "zhinao ui")
    url = f"http://{args.host}:{args.port}"
    console.print(f"lineage page: {url} (store {get_settings().store_root}); Ctrl-C stops it", soft_wrap=True)
    if url != ui_url():
        console.print(f"Prefect artifacts link to {ui_url()}: set ZHINAO_UI_URL={url} for runs to link here",
                      soft_wrap=True)
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="warning")
    return 0


def _prefect(argv: list[str]) -> int:
    return subprocess.call([sys.executable, "-m", "prefect", *argv], cwd=REPO, env=os.environ | {"ZHINAO_REPO": str(REPO)})


POOL = "zhinao-process"


def _need_server(what: str) -> None:
    if not use_home_server():
        raise ServerError(f"{what} needs a running Prefect server: start `zhinao server` (or set PREFECT_API_URL)")
    require_answer(os.environ["PREFECT_API_URL"])


def cmd_deploy(args: argparse.Namespace) -> int:
    """Create prefect.yaml's process work pool (if missing) and register every deployment."""
    _need_server("`zhinao deploy`")
    rc = _prefect(["work-pool", "create", POOL, "--type", "process", "--overwrite"])
    return rc or _prefect(["--no-prompt", "deploy", "--all"])


@with_api
def cmd_ablate(args: argparse.Namespace):
    """The ablate stage with the datasets as arguments; prints the comparison table."""
    from zhinao.tasks.ablate.stage import AblateParams

    from .params import parse_params
    from ..flows.registry import Target
    from ..flows.stages import ablate

    params = parse_params(AblateParams, [f"datasets={json.dumps(args.datasets)}"] + (args.param or []))
    inputs = parse_inputs(args.input, Target("ablate", ablate, AblateParams, "stage"), params) if args.input else None
    return lambda: _ablate_table(ablate(params, inputs=inputs), params)


def _ablate_table(result, params) -> int:
    table = Table(title=f"{result.ref}: validation loss after {params.steps} steps"
                        + (" (cache hit)" if result.cache_hit else ""))
    rows = result.stats.get("tables", {}).get("ablation", [])
    for col in ("dataset", "train_docs", "train_tokens", "epochs", "final_valid_loss", "best_valid_loss", "vs_first"):
        table.add_column(col, justify="left" if col == "dataset" else "right", overflow="fold")
    for r in rows:
        table.add_row(*(str(r[c]) for c in ("dataset", "train_docs", "train_tokens", "epochs", "final_valid_loss",
                                             "best_valid_loss", "vs_first")))
    console.print(table)
    for plot in result.stats.get("tables", {}).get("plots", []):
        console.print(f"plot: {plot['path']}")
    return 0


class TargetsHelp(argparse.Action):
    """`zhinao run --help`: the usage, then every stage and pipeline as declared (name, what it reads,
    the first sentence of its description), by group."""
    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from zhinao.tasks.registry import upstream

        from ..flows.registry import targets
        from .reference import first_sentence

        parser.print_help()
        found = targets()
        for kind in ("stage", "pipeline"):
            print(f"\n{kind}s (group: what it does; <- what it reads):")
            for t in found.values():
                if t.kind == kind:
                    reads = upstream(t.flow.stage) if kind == "stage" else ()
                    print(f"  {t.name:<16} {t.tags[0] if t.tags else '':<13} {first_sentence(t.description, 72)}"
                          + (f" <- {', '.join(reads)}" if reads else ""))
        print("\nevery parameter of every stage and pipeline: docs/stages.md")
        parser.exit()


def cmd_worker(args: argparse.Namespace) -> int:
    _need_server("`zhinao worker`")
    return _prefect(["worker", "start", "--pool", args.pool, "--type", "process"])


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="zhinao", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a stage or a pipeline (cached: unchanged inputs are not recomputed)",
                         add_help=False)
    run.add_argument("-h", "--help", action=TargetsHelp, help="show this help and every stage and pipeline")
    run.add_argument("target", help="stage (ingest) or pipeline (data)")
    run.add_argument("--param", "-p", action="append", metavar="KEY=VALUE",
                     help="parameter; dotted keys for pipelines (ingest.shard_rows=100)")
    run.add_argument("--input", "-i", action="append", metavar="INPUT=DATASET[@VERSION]",
                     help="pin an input version of a stage (default: the latest)")
    run.set_defaults(func=cmd_run)
    ab = sub.add_parser("ablate", help="train the same small model on each dataset and compare validation loss")
    ab.add_argument("datasets", nargs="+", metavar="DATASET[@VERSION]", help="two or more document versions")
    ab.add_argument("--param", "-p", action="append", metavar="KEY=VALUE",
                    help="ablate parameter (steps=200, seeds=0,1,2, validation=DATASET@VERSION, preset=small ...)")
    ab.add_argument("--input", "-i", action="append", metavar="tokenizer=tokenizer@VERSION",
                    help="pin the tokenizer version (default: the latest)")
    ab.set_defaults(func=cmd_ablate)
    ds = sub.add_parser("datasets", help="list dataset versions in the catalog")
    ds.add_argument("--json", action="store_true")
    ds.set_defaults(func=cmd_datasets)
    lin = sub.add_parser("lineage", help="upstream graph of a version as a tree")
    lin.add_argument("ref", metavar="DATASET[@VERSION]", nargs="?",
                     help="default: the newest version in the catalog")
    lin.add_argument("--direction", choices=["up", "down", "both"], default="up",
                     help="up: what it was made from (default); down: what was made from it; both")
    lin.add_argument("--down", dest="direction", action="store_const", const="both", help="= --direction both")
    lin.add_argument("--depth", type=int, metavar="N", help="stop N levels from the version (and say what lies beyond)")
    lin.add_argument("--sources", action="store_true", help="list every raw source file (default: a summary per version)")
    lin.set_defaults(func=cmd_lineage)
    tr = sub.add_parser("trace", help="one document through the stages: kept, changed, dropped (why), its "
                                      "mixture shard, token ranges and the models trained on it")
    tr.add_argument("doc", metavar="DOC", nargs="?", help="a document id, a URL, or a text snippet")
    tr.add_argument("--reason", metavar="REASON", help="instead of DOC: the first document dropped for REASON "
                                                      "(near_duplicate, lang_not_kept, gopher_quality ...)")
    tr.add_argument("--json", action="store_true")
    tr.set_defaults(func=cmd_trace)
    cmp = sub.add_parser("compare", help="evaluations of several models side by side (table and plot)")
    cmp.add_argument("refs", nargs="+", metavar="VERSION", help="eval versions, or model versions (their newest "
                                                                 "evaluation): pretrain-stage1 pretrain-stage2 ...")
    cmp.add_argument("--ancestors", type=int, default=0, metavar="N", help="also the N models each was made from "
                     "(`--ancestors 2 long-phase`: the parent model and both long-context phases)")
    cmp.add_argument("--json", action="store_true")
    cmp.set_defaults(func=cmd_compare)
    clu = sub.add_parser("cluster", help="the Ray cluster this environment names (RAY_ADDRESS)")
    clu_sub = clu.add_subparsers(dest="cluster_command", required=True)
    chk = clu_sub.add_parser("check", help="on every Ray node: the shared settings, the store round trip, the "
                                           "Prefect API, the same Python environment; exit 1 naming what is missing")
    chk.add_argument("--timeout", type=float, default=120.0, help="seconds for every node's check (default 120)")
    chk.add_argument("--json", action="store_true")
    chk.set_defaults(func=cmd_cluster_check)
    ver = sub.add_parser("verify", help="check versions against their manifests: files there, sizes, checksums")
    ver.add_argument("refs", nargs="*", metavar="DATASET[@VERSION]", help="default: every version in the catalog")
    ver.add_argument("--quick", action="store_true", help="files and sizes only (one listing each, no hashing)")
    ver.add_argument("--recompute", action="store_true",
                     help="run the stage of each damaged version again (same inputs and parameters)")
    ver.set_defaults(func=cmd_verify)
    cat = sub.add_parser("catalog", help="maintain the lineage catalog").add_subparsers(dest="action", required=True)
    reb = cat.add_parser("rebuild", help="register every committed version found in the store (a second machine "
                                         "on a shared store, a lost catalog)")
    reb.add_argument("--prune", action="store_true", help="also unregister versions whose files are gone")
    reb.set_defaults(func=cmd_catalog_rebuild)
    sc = sub.add_parser("sample-corpus", help="write the deterministic sample crawl (WARC files)")
    sc.add_argument("--out", help="folder (default: ZHINAO_HOME/sample-corpus)")
    sc.add_argument("--pages", type=int, default=480)
    sc.add_argument("--files", type=int, default=4)
    sc.add_argument("--seed", type=int, default=0)
    sc.set_defaults(func=cmd_sample_corpus)
    srv = sub.add_parser("server", help="start a local Prefect server (UI + API) on 127.0.0.1")
    srv.add_argument("--port", type=int, default=DEFAULT_PORT)
    srv.set_defaults(func=cmd_server)
    ui = sub.add_parser("ui", help="serve the lineage web page (graph, versions, diffs, plots) on 127.0.0.1")
    ui.add_argument("--port", type=int, default=UI_PORT)
    ui.add_argument("--host", default="127.0.0.1", help="address to bind (default: this machine only)")
    ui.set_defaults(func=cmd_ui)
    dep = sub.add_parser("deploy", help="create the work pool and every deployment in prefect.yaml")
    dep.set_defaults(func=cmd_deploy)
    wk = sub.add_parser("worker", help="start a process worker for the deployments")
    wk.add_argument("--pool", default=POOL)
    wk.set_defaults(func=cmd_worker)
    return p


PROCESS_COMMANDS = {"run", "ablate", "worker", "server", "deploy", "verify"}   # commands that start processes


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=os.environ.get("ZHINAO_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        configure()
        return args.func(args)
    except (ValueError, LookupError, FileNotFoundError, PermissionError, ServerError, ImportError) as e:
        return _error(e, 2)
    except Exception as e:          # a failure a retry did not fix: one line here, the whole story in the log
        return _error(e, 1)


def _error(e: BaseException, code: int) -> int:
    """One `error:` line naming the problem (whole lines: commands stay copyable); the traceback goes
    to ZHINAO_HOME/logs/last-error.log."""
    import traceback

    where = ""
    try:
        from zhinao.tasks.settings import get_settings

        path = get_settings().home / "logs" / "last-error.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(traceback.format_exception(e)))
        where = f" (traceback: {path})"
    except OSError:
        pass
    kind = "" if isinstance(e, (ValueError, LookupError, ServerError)) else f"{type(e).__name__}: "
    first = str(e).strip() or type(e).__name__
    console.print(f"[red]error:[/red] {escape(kind + first + where)}", soft_wrap=True)     # [..] is text here
    return code


def _log_dir() -> str | None:
    try:
        from zhinao.tasks.settings import get_settings

        logs = get_settings().home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        return str(logs)
    except (OSError, ValueError):
        return None


def console_main() -> int:
    """The `zhinao` command itself: Ctrl-C and SIGTERM stop it within seconds, and a command that
    starts processes gets a reaper that stops them however the command ends (zhinao/app/reaper.py)."""
    global _REAPER
    stopping.install()
    argv = sys.argv[1:]
    if argv and argv[0] in PROCESS_COMMANDS:
        _REAPER = reaper.start(_log_dir())
    try:
        return main(argv)
    except (KeyboardInterrupt, SystemExit) as e:
        # ours (stopping.Stopped), a KeyboardInterrupt Ray raised for SIGINT, or ray.init's own
        # SIGTERM handler (sys.exit(15)) when the signal came while it was starting
        if isinstance(e, SystemExit) and e.code != signal.SIGTERM:
            raise
        signum = stopping.received() or (signal.SIGTERM if isinstance(e, SystemExit) else signal.SIGINT)
        console.print(f"zhinao: stopped by {signal.Signals(signum).name}; its flow runs are marked crashed, "
                      "its lease released and its processes stopped", soft_wrap=True)
        return stopping.exit_code(signum)
    finally:
        reaper.finish(_REAPER)


if __name__ == "__main__":
    sys.exit(console_main())
