"""Embedded SQLite lineage catalog: versions and parent edges (rebuildable from manifests)."""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path

from .manifest import Manifest

_SCHEMA = """
CREATE TABLE IF NOT EXISTS versions (
    version     TEXT PRIMARY KEY,
    dataset     TEXT NOT NULL,
    stage       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    rows        INTEGER NOT NULL,
    bytes       INTEGER NOT NULL,
    code        TEXT NOT NULL,
    flow_run_id TEXT,
    manifest    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS versions_dataset ON versions(dataset, created_at);
CREATE TABLE IF NOT EXISTS edges (
    child  TEXT NOT NULL,
    parent TEXT NOT NULL,
    PRIMARY KEY (child, parent)
);
CREATE INDEX IF NOT EXISTS edges_parent ON edges(parent);
CREATE TABLE IF NOT EXISTS current (
    dataset TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    at      TEXT NOT NULL
);
"""


class Catalog:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._conn() as c:
            c.executescript(_SCHEMA)

    @contextmanager
    def _conn(self):
        # One short connection per call: safe across processes and Ray workers; WAL lets readers
        # proceed while a stage registers a version.
        conn = sqlite3.connect(self.path, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.row_factory = sqlite3.Row
        try:
            yield conn
            conn.commit()
        finally:
            conn.close()

    def register(self, m: Manifest) -> None:
        with self._conn() as c:
            c.execute(
                "INSERT OR REPLACE INTO versions VALUES (?,?,?,?,?,?,?,?,?,?)",
                (m.version, m.dataset, m.stage, m.kind, m.created_at, m.rows, m.bytes, m.code,
                 m.flow_run_id, m.to_json()),
            )
            c.executemany(
                "INSERT OR IGNORE INTO edges VALUES (?,?)",
                [(m.version, p.split("@", 1)[1]) for p in m.parents],
            )

    def get(self, version: str) -> Manifest | None:
        with self._conn() as c:
            row = c.execute("SELECT manifest FROM versions WHERE version=?", (version,)).fetchone()
        return Manifest.from_json(row["manifest"]) if row else None

    def find(self, dataset: str, prefix: str = "") -> list[Manifest]:
        """Versions of a dataset, newest first, optionally by version-id prefix."""
        with self._conn() as c:
            rows = c.execute(
                # the prefix is literal text (a LIKE pattern would let `_` and `%` match anything)
                "SELECT manifest FROM versions WHERE dataset=? AND substr(version, 1, ?)=? "
                "ORDER BY created_at DESC, rowid DESC",
                (dataset, len(prefix), prefix),
            ).fetchall()
        return [Manifest.from_json(r["manifest"]) for r in rows]

    def all(self) -> list[dict]:
        with self._conn() as c:
            rows = c.execute(
                "SELECT version, dataset, stage, kind, created_at, rows, bytes FROM versions "
                "ORDER BY dataset, created_at DESC"
            ).fetchall()
        return [dict(r) for r in rows]

    def mark_current(self, dataset: str, version: str) -> None:
        """`version` is what the last run of the stage resolved to (computed or a cache hit)."""
        with self._conn() as c:
            c.execute("INSERT OR REPLACE INTO current VALUES (?, ?, datetime('now'))", (dataset, version))

    def current(self, dataset: str) -> str | None:
        with self._conn() as c:
            row = c.execute("SELECT version FROM current WHERE dataset=?", (dataset,)).fetchone()
        return row["version"] if row else None

    def currents(self) -> dict[str, str]:
        """dataset -> the version its stage's last run resolved to."""
        with self._conn() as c:
            return {r["dataset"]: r["version"] for r in c.execute("SELECT dataset, version FROM current")}

    def edges(self) -> list[tuple[str, str]]:
        """Every (parent, child) pair of version ids."""
        with self._conn() as c:
            return [(r["parent"], r["child"]) for r in c.execute("SELECT parent, child FROM edges")]

    def children(self, version: str) -> list[str]:
        with self._conn() as c:
            rows = c.execute("SELECT child FROM edges WHERE parent=?", (version,)).fetchall()
        return [r["child"] for r in rows]

    def remove(self, version: str) -> None:
        with self._conn() as c:
            c.execute("DELETE FROM versions WHERE version=?", (version,))
            c.execute("DELETE FROM edges WHERE child=?", (version,))
            c.execute("DELETE FROM current WHERE version=?", (version,))
