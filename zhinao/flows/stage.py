"""The stage runner: a declared Stage (zhinao/tasks/declare.py) becomes a cached, retryable, Ray-run
Prefect flow.

A stage flow: resolve inputs -> compute version id -> return early on cache hit -> run the splits
on Ray -> commit one version (and its audit side version) -> publish artifacts.
"""
import time
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from prefect import flow
from pydantic import BaseModel

from zhinao.tasks.declare import Plan, RunContext, Stage, resume_folder, stage_modules
from zhinao.tasks.params import StageParams
from zhinao.tasks.runtime.drops import merge as merge_drops
from zhinao.tasks.runtime.ray_exec import init_ray, run_splits
from zhinao.tasks.stats import StageStats, dropped_text
from zhinao.tasks.store import Manifest, Store, schema_fields, version_id, write_shard
from zhinao.tasks.home import open_store
from zhinao.tasks.settings import get_settings
from zhinao.tasks.store.closure import closure, files_fingerprint
from zhinao.tasks.store.external import external_sources
from zhinao.tasks.store.integrity import DamagedVersion, summary
from zhinao.tasks.store.lease import Lease, sweep_dead
from zhinao.tasks.store.writer import sweep_staging

from .artifacts import publish_artifacts
from .lineage_events import StageRunEvents
from .hooks import install_prefect_hooks, run_logger
from .retry import retryable

install_prefect_hooks()      # tasks/ log and report progress through Prefect in stage flows


TABLE_KINDS = ("dataset", "eval")      # versions of Parquet rows (the others are folders of files)


class StageResult(BaseModel):
    stage: str
    ref: str
    version: str
    cache_hit: bool
    rows: int
    kind: str = "dataset"
    audit_ref: str | None = None
    stats: dict[str, Any] = {}


def _logger():
    return run_logger("zhinao.stage")


def _flow_run_id() -> str | None:
    from prefect.runtime import flow_run

    return flow_run.get_id()


def input_names(stage: Stage, params: StageParams, inputs: dict[str, str]) -> tuple[str, ...]:
    """The inputs the stage reads with these params; pins (`inputs`) must name some of them."""
    names = stage.reads(params)
    unknown = set(inputs) - set(names)
    if unknown:
        raise ValueError(f"stage {stage.name!r} has no input(s) {sorted(unknown)}; it reads {list(names)}")
    return names


def execute_stage(stage: Stage, params: StageParams, inputs: dict[str, str] | None = None,
                  store: Store | None = None) -> StageResult:
    log = _logger()
    store = store or open_store()
    inputs = inputs or {}
    names = input_names(stage, params, inputs)
    parents = [store.resolve(inputs.get(name, name)) for name in names]
    try:
        plan = stage.plan(params, parents, store)
    except Exception:
        # some plans read their inputs (a topic model's labels, a mixture's counts): a failure there
        # is named as the damage it is, if it is one; the inputs are hashed only then
        for p in parents:
            store.verify(p, content=True, raise_=True)
        raise
    parents = parents + [m for m in plan.parents if m.ref not in {p.ref for p in parents}]
    code_files = closure(stage_modules(stage))
    code = files_fingerprint(code_files, salt=stage.name)
    plan.sources = plan.sources + external_sources(code_files)     # libraries, env, model files
    vid = version_id(stage.name, params.key_params(), code, [p.version for p in parents], plan.key)

    wants_audit = params.audit and stage.kind == "dataset"
    hit = _cached(stage, store, vid, wants_audit, log)
    if hit is not None:
        return hit
    # what killed runs of this stage left on this host: staging folders and leases of any version
    sweep_dead(store.root, stage.name, keep=vid)
    sweep_staging(store.root, stage.name)
    # one writer per version: a second run of it waits here, then finds the first one's commit
    settings = get_settings()
    with Lease(store.root, f"{stage.name}/{vid}", owner=f"flow run {_flow_run_id() or '-'}",
               ttl=settings.lease_ttl, wait=settings.lease_wait) as lease:
        hit = _cached(stage, store, vid, wants_audit, log, again=True)
        if hit is not None:
            return hit
        return _compute(stage, params, store, plan, parents, code, vid, wants_audit, lease, log)


def _cached(stage: Stage, store: Store, vid: str, wants_audit: bool, log, again: bool = False) -> StageResult | None:
    """The committed version as a cache hit, or None when it (or the audit asked for) must be computed."""
    existing = _whole(store, stage.name, vid, log, fix=again)
    if existing is None:
        return None
    audit = store.catalog.find(f"{stage.name}.dropped")
    audit_ref = next((a.ref for a in audit if f"{stage.name}@{vid}" in a.parents), None)
    if wants_audit and not audit_ref:
        if not again:
                log.info("cache hit: %s already committed (%d rows, %s); computing its audit side version only",
                     existing.ref, existing.rows, existing.created_at)
        return None
    log.info("cache hit: %s already committed (%d rows, %s)%s; nothing to do", existing.ref, existing.rows,
             existing.created_at, " by the run this one waited for" if again else "")
    _make_latest(store, existing, log)
    return StageResult(stage=stage.name, ref=existing.ref, version=vid, cache_hit=True,
                       rows=existing.rows, kind=stage.kind, audit_ref=audit_ref, stats=existing.stats)


def _whole(store: Store, dataset: str, vid: str, log, fix: bool) -> Manifest | None:
    """The committed version when it is whole (its manifest reads, its files are there at their
    sizes, nothing marked it damaged); a damaged one is set aside when `fix` (under the lease), so
    this run computes it again."""
    try:
        found = store.lookup(dataset, vid)
        problems = store.verify(found, content=False) if found is not None else []
    except DamagedVersion as e:
        found, problems = None, e.problems
    if problems and fix and found is not None:     # before setting it aside: the bytes, not an old mark
        problems = store.verify(found, content=True)
    if not problems:
        return found
    if fix:
        log.warning("%s@%s is damaged (%s); setting it aside and computing it again", dataset, vid,
                    summary(problems))
        store.set_aside(dataset, vid)
    return None


def _compute(stage: Stage, params: StageParams, store: Store, plan: Plan, parents: list[Manifest], code: str,
             vid: str, wants_audit: bool, lease: Lease, log) -> StageResult:
    for p in parents:       # a damaged input fails here, naming itself, before any work is done
        store.verify(p, content=True, raise_=True)
    existing = store.lookup(stage.name, vid)
    if existing is None:
        log.info("computing %s@%s from %d split(s)%s", stage.name, vid, len(plan.splits),
                 f" and inputs {[p.ref for p in parents]}" if parents else "")
    started = time.time()
    # an audit-only run writes its (discarded) main output beside the resume folder, never over the version
    writer = (store.writer(stage.name, vid) if existing is None
              else store.writer(f".resume/{stage.name}", f"{vid}-rerun"))
    writer.remove_abandoned()           # attempts of writers that died: safe, the lease is ours
    audit_writer = store.writer(f"{stage.name}.dropped", version_id(stage.name + ".dropped", {}, code, [vid])) \
        if wants_audit else None
    events = StageRunEvents(store, stage.name, vid, code, params.key_params(), parents, _flow_run_id())
    events.start()
    try:
        if params.use_ray:
            init_ray(params.num_cpus)
        # the work gets the params object itself (its class is importable wherever the stage's
        # code runs: declarations live in packages, not in files Prefect loads by path)
        task_params = params
        audit_rel = audit_writer.staging_rel if audit_writer else None
        if stage.run is not None:
            ctx = RunContext(stage, task_params, plan, store, writer.staging_rel, audit_rel, params.use_ray, vid)
            results = stage.run(ctx)
            _remove(store, ctx.scratch)
        else:
            results = run_splits(stage.process, plan.splits, task_params, store.root, writer.staging_rel,
                                 audit_rel, desc=stage.name, use_ray=params.use_ray, actors=stage.actors)
        schema = plan.schema or stage.schema
        stats = StageStats()
        for r in results:
            stats.merge(r.stats)
        stats.count("splits", len(results))
        stats.count("workers", len({(r.worker.get("node"), r.worker.get("pid")) for r in results}))
        merging = time.time()
        drop_shards = merge_drops(store.root, writer.staging_rel, [s for r in results for s in r.drop_shards])
        finished = time.time()
        drop_seconds = sum(r.drop_seconds for r in results) + finished - merging
        common = dict(stage=stage.name, code=code, flow_run_id=_flow_run_id(),
                      created_at=datetime.now(timezone.utc).isoformat(),
                      timings={"started": started, "seconds": round(finished - started, 3),
                               "drop_record_seconds": round(drop_seconds, 3)})
        audit_ref = None
        lease.check()                 # a run that lost its lease commits nothing
        if audit_writer is not None:  # committed first: a visible main version implies its audit
            audit_m = Manifest(dataset=f"{stage.name}.dropped", version=audit_writer.version, kind="audit",
                               params=params.key_params(), parents=[f"{stage.name}@{vid}"],
                               **_shards_and_schema(store, audit_writer, [s for r in results for s in r.audit_shards],
                                                    schema.append(pa.field("drop_reason", pa.string()))),
                               stats={"dropped": dict(stats.dropped)}, **common)
            audit_ref = store.commit(audit_writer, audit_m).ref
        if existing is not None:    # the version itself was there: only its audit was missing
            writer.abort()
            _make_latest(store, existing, log)
            return StageResult(stage=stage.name, ref=existing.ref, version=vid, cache_hit=True, rows=existing.rows,
                               kind=stage.kind, audit_ref=audit_ref, stats=existing.stats)
        shards = [s for r in results for s in r.shards]
        manifest = Manifest(dataset=stage.name, version=vid, params=params.key_params(), kind=stage.kind,
                            parents=[p.ref for p in parents],
                            **(_shards_and_schema(store, writer, shards, schema) if stage.kind in TABLE_KINDS
                               else {"shards": shards}),
                            sources=plan.sources, drops=drop_shards,
                            stats=stats.to_dict(), **common)
        committed = store.commit(writer, manifest)
        _make_latest(store, committed, log)
        _remove(store, resume_folder(stage.name, vid))
    except BaseException as e:
        writer.abort()
        if audit_writer is not None:
            audit_writer.abort()
        events.fail(e)
        raise
    size = f"{len(committed.shards)} files" if stage.kind not in TABLE_KINDS else \
        f"{committed.rows} rows in {len(committed.shards)} shards"
    log.info("committed %s: %s, %d dropped (%s) in %.1fs", committed.ref, size, stats.total_dropped,
             ", ".join(f"{k}={v}" for k, v in sorted(stats.dropped.items())) or "none", finished - started)
    events.complete(committed)
    publish_artifacts(store, committed, stats)
    return StageResult(stage=stage.name, ref=committed.ref, version=vid, cache_hit=False,
                       rows=committed.rows, kind=stage.kind, audit_ref=audit_ref, stats=committed.stats)


def _make_latest(store: Store, m: Manifest, log) -> None:
    """A new version becomes what its dataset's name resolves to, unless it holds no rows: an empty
    crawl or a filter that dropped everything must not quietly replace good data downstream."""
    if m.kind == "dataset" and m.rows == 0:
        before = store.catalog.current(m.dataset)
        log.warning("%s has 0 rows (dropped: %s); %s. Use it by its ref (`-i %s=%s`)", m.ref,
                    dropped_text(m.stats.get("dropped", {})),
                    f"'{m.dataset}' still resolves to {m.dataset}@{before}" if before else "it is not made the latest",
                    m.dataset, m.ref)
        return
    store.catalog.mark_current(m.dataset, m.version)


def _remove(store: Store, folder: str) -> None:
    path = store.root.join(folder)
    if store.root.exists(path):
        store.root.fs.delete_dir(path)


def _shards_and_schema(store: Store, writer, shards: list, schema: pa.Schema) -> dict[str, Any]:
    """The manifest's shard list and schema: the schema as written (stages may add audit columns);
    an empty version still gets one empty shard, so readers always find its schema."""
    if not shards:
        shards = [write_shard(store.root, writer.staging_rel, "part-00000-0000.parquet", schema.empty_table())]
    with store.root.fs.open_input_file(store.root.join(writer.staging_rel, shards[0].path)) as fh:
        written = pq.read_schema(fh)
    return {"shards": shards, "schema": schema_fields(written)}


def make_flow(stage: Stage):
    """The Prefect flow for a stage; its pydantic parameters become the deployment's schema.

    Attempts are retried here, not by Prefect: only failures another attempt can fix
    (zhinao/flows/retry.py), up to `stage.retries` times; the others end the flow run at once."""
    params_model = stage.params

    def run_stage(params: params_model = params_model(), inputs: dict[str, str] | None = None) -> StageResult:  # type: ignore[valid-type]
        for attempt in range(stage.retries + 1):
            try:
                return execute_stage(stage, params, inputs)
            except Exception as e:
                if attempt == stage.retries or not retryable(e):
                    raise
                _logger().warning("%s: attempt %d of %d failed (%s: %s); retrying in %.0f s", stage.name,
                                  attempt + 1, stage.retries + 1, type(e).__name__, str(e).splitlines()[0][:300]
                                  if str(e) else "", stage.retry_delay_s)
                time.sleep(stage.retry_delay_s)
        raise AssertionError("unreachable")

    run_stage.__doc__ = stage.description
    made = flow(name=stage.name, description=stage.description, timeout_seconds=stage.timeout_s,
                persist_result=False, validate_parameters=True)(run_stage)
    made.stage = stage       # what the flow runs, for tools that walk every stage
    return made
