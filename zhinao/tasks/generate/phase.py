"""Generation phases of a multi-phase stage: rows in chunks on the generator actors, the kept and
dropped rows read back, and each phase's token and row counts booked under its name."""
from __future__ import annotations

from zhinao.tasks.generate.engine import GenJob, GenerateRows
from zhinao.tasks.generate.generation import GENERATOR_ACTORS, gen_split
from zhinao.tasks.generate.rows import read_results
from zhinao.tasks.stats import StageStats


COUNTERS = ("prompt_tokens", "completion_tokens", "batches", "batches_resumed")


def book(results, name: str, stats: StageStats) -> None:
    """A phase's token, batch and row counts into the stage's statistics."""
    for r in results:
        for key in COUNTERS:
            stats.count(key, r.stats.counters.get(key, 0))
        stats.count(f"{name}.rows_in", r.stats.counters.get("rows_in", 0))
        stats.count(f"{name}.rows_out", r.stats.counters.get("rows_out", 0))


def map_job(ctx, job: GenJob, splits: list[dict], name: str, stats: StageStats) -> tuple[list, str, str]:
    """Runs `job` over prepared splits (gen_split) into scratch folders: (results, kept folder,
    dropped folder). Finished batches are kept in the version's resume folder for retries."""
    folder, audit = f"{ctx.scratch}/{name}", f"{ctx.scratch}/{name}-dropped"
    results = ctx.map(GenerateRows(job), splits, name, output=folder, audit=audit, actors=GENERATOR_ACTORS)
    book(results, name, stats)
    return results, folder, audit


def run_phase(ctx, spec, job: GenJob, rows: list[dict], schema, name: str, stats: StageStats,
              rows_per_split: int) -> tuple[list[dict], list[dict]]:
    """(kept rows, dropped rows with drop_reason) of `job` over inline `rows`."""
    if not rows:
        return [], []
    splits = [gen_split(ctx, spec, schema, rows=rows[i:i + rows_per_split])
              for i in range(0, len(rows), rows_per_split)]
    results, folder, audit = map_job(ctx, job, splits, name, stats)
    kept = read_results(ctx.store.root, folder, results)
    dropped = read_results(ctx.store.root, audit, results, audit=True)
    return (kept.to_pylist() if kept is not None else []), (dropped.to_pylist() if dropped is not None else [])
