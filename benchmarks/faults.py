"""Fault injection: kill -9 at random moments of real `zhinao run`s, damage committed versions, fill
a small disk, feed bad input; then count what survived and what was caught.

    python benchmarks/faults.py [--kills N] [--seed S] [--quick] [--home MAIN_JOB_HOME]

Each kill trial: set the stage's version aside, start `zhinao run STAGE` (inputs pinned), SIGKILL
the command after a random share of the clean run's time, look for a partial version (a visible
version that is not whole, or with other rows), then run it again and compare version id and
content with the clean run. Damage trials flip 8 bytes in a shard, truncate a manifest, delete a
shard, and check that the next run names the version and file, and that the way out recovers.
Training and alignment kills need a home where the main job ran (`--home`, default ./.zhinao);
without one those rows say so. `--quick` (CI) keeps one kill of a data stage and the rest.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
ZHINAO = str(Path(sys.executable).parent / "zhinao")


@dataclass
class Row:
    fault: str
    trials: int = 0
    survived: int = 0           # the run after the fault completed (or the fault was refused cleanly)
    partial: int = 0            # partial or mixed versions seen (must be 0)
    identical: int = 0          # reruns with the clean run's version id and content
    detected: int = 0           # damage trials: the damage was found (silent damage = trials - detected)
    named: int = 0              # ... with a message naming the version/file (or the bad input)
    lost: int = 0               # good records lost (bad input)
    executed: int = 0           # code from the store that ran (a crafted checkpoint)
    notes: list[str] = field(default_factory=list)


def zhinao(env: dict, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([ZHINAO, *args], env=env, capture_output=True, text=True, timeout=timeout)


def store_of(env: dict):
    os.environ.update({k: v for k, v in env.items() if k.startswith("ZHINAO_")})   # settings read it per call
    from zhinao.tasks.home import open_store

    return open_store()


def content(store, ref: str) -> str:
    """What a version holds, independent of how it is sharded: rows sorted by id, or file bytes."""
    m = store.resolve(ref)
    h = hashlib.sha256()
    if m.kind in ("dataset", "eval"):
        rows = store.open_arrow(m).to_pylist()
        for r in sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str)):
            h.update(json.dumps(r, sort_keys=True, default=str).encode())
    else:       # a model is its weights (its folder also holds timings, plots and optimizer state)
        weights = [s for s in m.shards if s.path.endswith(".safetensors")] or m.shards
        for s in sorted(weights, key=lambda s: s.path):
            h.update(s.path.encode() + Path(store.root.join(m.folder, s.path)).read_bytes())
    return h.hexdigest()


def partial_versions(store, stage: str, clean_rows: int) -> list[str]:
    """Versions of `stage` a reader could see that are not whole or hold other rows."""
    seen = []
    for info in store.root.listdir(store.root.join(stage)):
        if info.base_name.startswith("."):
            continue
        try:
            m = store.lookup(stage, info.base_name)
        except Exception as e:          # an unreadable manifest is a partial version
            seen.append(f"{info.base_name}: {e}")
            continue
        if m is not None and (store.verify(m, mark=False) or m.rows != clean_rows):
            seen.append(f"{m.ref}: rows {m.rows} vs {clean_rows}")
    return seen


def kill_trials(env: dict, stage: str, extra: list[str], n: int, rng: random.Random, label: str) -> Row:
    row = Row(label)
    started = time.time()
    done = zhinao(env, "run", stage, *extra)
    clean_s = time.time() - started
    if done.returncode:
        row.notes.append(f"clean run failed: {done.stdout[-300:]} {done.stderr[-300:]}")
        return row
    store = store_of(env)
    clean = store.resolve(stage)
    clean_hash = content(store, clean.ref)
    for _ in range(n):
        row.trials += 1
        store.set_aside(stage, clean.version, why="fault trial: computed again")
        proc = subprocess.Popen([ZHINAO, "run", stage, *extra], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, 1.0) * clean_s)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        time.sleep(3)                    # the command's reaper stops what it started
        partial = partial_versions(store, stage, clean.rows)
        row.partial += len(partial)
        row.notes += partial
        again = zhinao(env, "run", stage, *extra)
        if again.returncode:
            row.notes.append(f"rerun failed: {again.stdout[-300:]}")
            continue
        row.survived += 1
        m = store.resolve(stage)
        same = m.version == clean.version and content(store, m.ref) == clean_hash
        row.identical += same
        if not same:
            row.notes.append(f"rerun made {m.ref} (clean {clean.ref}): "
                             + ("other content" if m.version == clean.version else "another version id"))
    row.notes.append(f"clean run {clean_s:.0f} s")
    return row


def flip(path: Path, n: int = 8) -> None:
    data = bytearray(path.read_bytes())
    at = len(data) // 2
    data[at:at + n] = bytes(b ^ 0xFF for b in data[at:at + n])
    path.write_bytes(bytes(data))


def damage_trials(env: dict, stage: str, pins: list[str], reader: str) -> list[Row]:
    """Flip, truncate, delete on `stage`'s version; `reader` is the stage that reads it."""
    store = store_of(env)
    rows = []
    for fault in ("flip 8 bytes in a shard", "truncate a manifest", "delete a shard"):
        row = Row(fault, trials=1)
        m = store.resolve(stage)
        folder = Path(store.root.join(m.folder))
        shard = m.shards[len(m.shards) // 2].path
        if fault.startswith("flip"):
            flip(folder / shard)
        elif fault.startswith("truncate"):
            manifest = folder / "manifest.json"
            manifest.write_bytes(manifest.read_bytes()[:300])
            shard = "manifest.json"
        else:
            (folder / shard).unlink()
        # the reader computes (its cached version would read nothing): set its version aside first
        done = store.catalog.find(reader)
        if done:
            store.set_aside(reader, done[0].version, why="fault trial: the reader computes again")
        run = zhinao(env, "run", reader, "-i", f"{stage}={m.ref}", "-p", "use_ray=false")
        said = run.stdout + run.stderr
        row.detected += run.returncode != 0 and "damaged" in said
        row.named += m.ref in said and shard in said
        way_out = zhinao(env, "verify", "--recompute", m.ref)
        whole = zhinao(env, "verify", m.ref)
        row.survived += way_out.returncode == 0 and whole.returncode == 0
        row.identical += store_of(env).resolve(m.ref).version == m.version
        if not row.named:
            row.notes.append(said.strip().splitlines()[-1][:300] if said.strip() else "no output")
        if way_out.returncode:
            row.notes.append(f"recompute: {way_out.stdout[-300:]}")
        rows.append(row)
    return rows


def disk_full(rng: random.Random) -> Row:
    from tests.stages import BLOBS, BlobParams
    from zhinao.flows.stage import execute_stage
    from zhinao.tasks.store.writer import StoreFull

    row = Row("disk full (1 MiB tmpfs)", trials=1)
    mnt = Path(tempfile.mkdtemp(prefix="zhinao-full-"))
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True).returncode:
        row.notes.append("cannot mount a tmpfs here: skipped")
        row.trials = 0
        return row
    try:
        os.environ["ZHINAO_STORE"] = str(mnt / "store")
        try:
            execute_stage(BLOBS, BlobParams(use_ray=False, splits=8, kib=256 + rng.randrange(64)))
        except StoreFull as e:
            row.detected += 1
            row.named += str(mnt / "store") in str(e) and "bytes free" in str(e)
        row.partial += len(list((mnt / "store").rglob(".tmp-*")))
        row.survived += execute_stage(BLOBS, BlobParams(use_ray=False, splits=2, kib=64)).rows == 2
    finally:
        os.environ.pop("ZHINAO_STORE", None)
        subprocess.run(["umount", "-l", str(mnt)], check=False)
    return row


def bad_input(env: dict) -> Row:
    from tests.bad_inputs import write_bad_corpus

    row = Row("bad input corpus", trials=1)
    folder = Path(tempfile.mkdtemp(prefix="zhinao-bad-"))
    expect = write_bad_corpus(folder)        # file -> {good, dropped: reason -> count, ...}
    good = sum(e["good"] for e in expect.values())
    want: dict[str, int] = {}
    for e in expect.values():
        for reason, count in e["dropped"].items():
            want[reason] = want.get(reason, 0) + count
    run = zhinao(env, "run", "ingest", "-p", f"sources={folder}", "-p", "use_ray=false")
    row.survived += run.returncode == 0
    if run.returncode:
        row.notes.append(run.stdout[-300:])
        return row
    m = store_of(env).resolve("ingest")
    kept = m.rows
    row.lost = max(0, good - kept)
    dropped = m.stats.get("dropped", {})
    row.detected += all(dropped.get(reason, 0) >= n for reason, n in want.items())
    record = _drop_record(m)
    located = {r["drop_reason"] for r in record if r["url"] or json.loads(r["signals"] or "{}").get("location")}
    row.named += row.detected and set(want) <= located
    row.notes.append(f"kept {kept} of {good} good records; dropped {dropped} (expected at least {want})")
    return row


def _drop_record(m) -> list[dict]:
    from zhinao.tasks.provenance.trace import drop_record

    table = drop_record(store_of({}), m)
    return table.to_pylist() if table is not None else []


def prepare_small_home(env: dict) -> None:
    """A small sample crawl through dedup-exact (in this process: the trials are what runs as
    commands), so quality and dedup-exact have inputs."""
    from zhinao.flows.registry import targets
    from zhinao.flows.stage import execute_stage
    from zhinao.tasks.corpus.generate import generate
    from zhinao.tasks.settings import get_settings

    store_of(env)
    generate(get_settings().sample_corpus, pages=120, files=2, seed=0)
    known = targets()
    for name in ("ingest", "extract", "langid", "quality", "dedup-exact"):
        stage = known[name].flow.stage
        execute_stage(stage, stage.params(use_ray=False))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=3, help="kill trials per stage")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="CI: one kill of a data stage, damage, disk, bad input")
    ap.add_argument("--home", default=str(REPO / ".zhinao"), help="a home where the main job ran (training kills)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="zhinao-faults-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZHINAO_", "PREFECT_"))}
    env |= {"ZHINAO_HOME": str(work / "home"), "ZHINAO_LOG_LEVEL": "WARNING"}
    os.environ.update(env)
    started = time.time()
    prepare_small_home(env)
    rows = [kill_trials(env, "quality", ["-p", "use_ray=false"], 1 if args.quick else args.kills, rng,
                        "kill -9: quality (in process)")]
    if not args.quick:
        rows.append(kill_trials(env, "dedup-minhash", [], args.kills, rng, "kill -9: dedup-minhash (Ray)"))
        rows += main_job_kills(Path(args.home), work, args.kills, rng)
    rows += damage_trials(env, "quality", [], "dedup-exact")
    rows.append(disk_full(rng))
    rows.append(bad_input(env))
    print_table(rows, time.time() - started)
    bad = sum(r.partial + r.lost + r.executed + (r.trials - r.detected if r.fault in DAMAGE or r.fault == "bad input corpus" else 0)
              for r in rows)
    return 1 if bad else 0


DAMAGE = {"flip 8 bytes in a shard", "truncate a manifest", "delete a shard", "disk full (1 MiB tmpfs)"}


def main_job_kills(home: Path, work: Path, n: int, rng: random.Random) -> list[Row]:
    """Training and alignment kills on a copy of the main job's home (pinned inputs)."""
    import shutil

    if not (home / "catalog.sqlite").exists():
        return [Row("kill -9: pretrain-stage1 / dpo", notes=[f"no main-job home at {home}: run run.sh first"])]
    copy = work / "main-home"
    shutil.copytree(home, copy, ignore=shutil.ignore_patterns("prefect", "logs", "models"), symlinks=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZHINAO_", "PREFECT_"))}
    env |= {"ZHINAO_HOME": str(copy), "ZHINAO_LOG_LEVEL": "WARNING", "ZHINAO_MODELS": str(home / "models")}
    store = store_of(env)
    rows = []
    for stage, extra in (("pretrain-stage1", ["-p", "steps=30", "-p", "checkpoint_every=10"]),
                         ("dpo", ["-p", "steps=8"])):
        pins = [x for name, ref in _pins(store, stage) for x in ("-i", f"{name}={ref}")]
        rows.append(kill_trials(env, stage, pins + extra, n, rng, f"kill -9: {stage}"))
        if stage == "pretrain-stage1":
            rows += crafted_checkpoints(env, store, stage, pins + extra, work)
    return rows


def crafted_checkpoints(env: dict, store, stage: str, args: list[str], work: Path) -> list[Row]:
    """Kill a training run once it has a checkpoint, replace that checkpoint's weights with a pickle
    that creates a file when loaded, and run again: with the checkpoint's checksums as saved (the
    run must fall back) and with them forged to match (the loader must refuse it)."""
    import torch

    rows = []
    for forged in (False, True):
        row = Row(f"crafted checkpoint ({'forged' if forged else 'as saved'} checksums)", trials=1)
        marker = work / f"ran-{int(forged)}"
        store.set_aside(stage, store.resolve(stage).version, why="fault trial: computed again")
        proc = subprocess.Popen([ZHINAO, "run", stage, *args], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        resume = Path(store.root.join(".resume", stage))
        deadline = time.time() + 600
        while not list(resume.rglob("complete.json")) and proc.poll() is None and time.time() < deadline:
            time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        time.sleep(3)
        done = sorted(resume.rglob("complete.json"))
        if not done:
            row.notes.append("the run finished or failed before its first checkpoint")
            rows.append(row)
            continue
        tag = done[-1].parent
        weights = next(tag.glob("*model_states.pt"))

        class Payload:
            def __reduce__(self):
                return exec, (f"open({str(marker)!r}, 'w').close()",)

        torch.save({"module": Payload()}, weights)
        if forged:
            info = json.loads(done[-1].read_text())
            info["files"][weights.name] = hashlib.sha256(weights.read_bytes()).hexdigest()
            done[-1].write_text(json.dumps(info))
        again = zhinao(env, "run", stage, *args)
        said = again.stdout + again.stderr
        row.executed += marker.exists()
        row.detected += "damaged" in said or "refused" in said or again.returncode == 0
        row.named += weights.name in said or again.returncode == 0
        row.survived += again.returncode == 0 or (forged and "refused" in said)
        row.notes.append(f"rerun rc {again.returncode}: " + (said.strip().splitlines() or [""])[-1][:240])
        rows.append(row)
    return rows


def _pins(store, stage: str) -> list[tuple[str, str]]:
    from zhinao.flows.registry import targets
    from zhinao.flows.stage import input_names

    st = targets()[stage].flow.stage
    return [(name, store.resolve(name).ref) for name in input_names(st, st.params(), {})]


def print_table(rows: list[Row], seconds: float) -> None:
    cols = ("fault", "trials", "survived", "partial", "identical", "detected", "named", "lost", "executed")
    print(f"{'fault':<42}" + "".join(f"{c:>10}" for c in cols[1:]))
    for r in rows:
        print(f"{r.fault:<42}" + "".join(f"{getattr(r, c):>10}" for c in cols[1:]))
    for r in rows:
        for note in r.notes:
            print(f"  {r.fault}: {note}")
    kills = [r for r in rows if r.fault.startswith("kill")]
    damage = [r for r in rows if r.fault in DAMAGE]
    print(f"kill trials {sum(r.trials for r in kills)}: partial versions {sum(r.partial for r in kills)}, reruns "
          f"identical {sum(r.identical for r in kills)}/{sum(r.survived for r in kills)}; damage trials "
          f"{sum(r.trials for r in damage)}: silent {sum(r.trials - r.detected for r in damage)}, named "
          f"{sum(r.named for r in damage)}; good records lost {sum(r.lost for r in rows)}; code run from the store "
          f"{sum(r.executed for r in rows)}; {seconds:.0f} s in all")


if __name__ == "__main__":
    sys.exit(main())
