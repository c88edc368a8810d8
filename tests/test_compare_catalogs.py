"""benchmarks/compare_catalogs.py: two homes that differ only in version ids compare equal; a changed
drop count or a missing dataset is reported."""
import importlib.util
import json
import sqlite3
from pathlib import Path

from zhinao.tasks.store.catalog import _SCHEMA

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "compare_catalogs.py"
spec = importlib.util.spec_from_file_location("compare_catalogs", SCRIPT)
compare_catalogs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compare_catalogs)


def manifest(dataset, version, parents, params, stats, rows):
    return {"dataset": dataset, "version": version, "stage": dataset, "params": params, "code": "c0",
            "parents": parents, "kind": "dataset", "schema": [], "drops": [], "attempt": "",
            "shards": [{"path": "part-0.parquet", "rows": rows, "bytes": 10 * rows, "sha256": ""}],
            "sources": [], "flow_run_id": None, "created_at": "2026-01-01T00:00:00",
            "timings": {"seconds": 1.0}, "stats": stats}


def make_home(path: Path, ids: tuple[str, str], *, dropped: int = 3, seconds: float = 1.5,
              with_quality: bool = True) -> Path:
    """A home whose catalog holds the chain ingest -> quality, under the given version ids."""
    path.mkdir(parents=True)
    ingest, quality = ids
    chain = [manifest("ingest", ingest, [], {"corpus": f"{path}/sample-corpus"},
                      {"counters": {"rows_in": 10, "rows_out": 10, "workers": 2}}, 10)]
    if with_quality:
        chain.append(manifest(
            "quality", quality, [f"ingest@{ingest}"], {"min_words": 5},
            {"counters": {"rows_in": 10, "rows_out": 10 - dropped, "workers": 4},
             "dropped": {"too_short": dropped},
             "tables": {"run": [{"metric": "train_seconds", "value": seconds},
                                {"metric": "source", "value": f"ingest@{ingest}"}],
                        "plots": [{"plot": "hist", "path": f"{path}/reports/quality-{quality}.png"}]}},
            10 - dropped))
    con = sqlite3.connect(path / "catalog.sqlite")
    con.executescript(_SCHEMA)
    for m in chain:
        con.execute("INSERT INTO versions VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (m["version"], m["dataset"], m["stage"], m["kind"], m["created_at"],
                     m["shards"][0]["rows"], m["shards"][0]["bytes"], m["code"], None, json.dumps(m)))
        con.executemany("INSERT INTO edges VALUES (?,?)",
                        [(m["version"], p.split("@", 1)[1]) for p in m["parents"]])
    con.commit()
    con.close()
    return path


def run(tmp_path, before, after, capsys):
    code = compare_catalogs.main([str(before), str(after), "--json", str(tmp_path / "out.json")])
    return code, capsys.readouterr().out, json.loads((tmp_path / "out.json").read_text())


def test_homes_that_differ_only_in_version_ids_compare_equal(tmp_path, capsys):
    before = make_home(tmp_path / "a", ("0123456789abcdef", "1111111111111111"))
    after = make_home(tmp_path / "b", ("fedcba9876543210", "2222222222222222"), seconds=9.0)
    code, out, result = run(tmp_path, before, after, capsys)
    assert code == 0 and result["differences"] == []
    assert len(result["pairs"]) == 2
    assert out.rstrip().endswith("differences: 0 (besides version ids)")


def test_a_changed_drop_count_is_reported_with_its_path(tmp_path, capsys):
    before = make_home(tmp_path / "a", ("0123456789abcdef", "1111111111111111"))
    after = make_home(tmp_path / "b", ("fedcba9876543210", "2222222222222222"), dropped=4)
    code, out, result = run(tmp_path, before, after, capsys)
    assert code == 1
    paths = {(d["dataset"], d["path"], d["before"], d["after"]) for d in result["differences"]}
    assert ("quality", "stats/dropped/too_short", 3, 4) in paths
    assert ("quality", "rows", 7, 6) in paths
    assert "stats/dropped/too_short: 3 -> 4" in out


def test_a_missing_dataset_is_reported(tmp_path, capsys):
    before = make_home(tmp_path / "a", ("0123456789abcdef", "1111111111111111"))
    after = make_home(tmp_path / "b", ("fedcba9876543210", "2222222222222222"), with_quality=False)
    code, out, result = run(tmp_path, before, after, capsys)
    assert code == 1
    assert [(d["dataset"], d["path"], d["after"]) for d in result["differences"]] == [
        ("quality", "(version)", None)]
    assert "datasets only before: quality" in out
