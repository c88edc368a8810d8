"""Where things live at run time (DESIGN.md): everything under ZHINAO_HOME unless overridden."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    home: Path
    store_root: str          # local path or a pyarrow/fsspec URI (s3://bucket/prefix)
    catalog_path: Path       # embedded SQLite lineage catalog
    prefect_home: Path
    reports: Path
    sample_corpus: Path

    # read when asked, so a bad value stops what takes a lease, not every command
    @property
    def lease_ttl(self) -> float:
        """Seconds of heartbeat silence before a stage run's lease counts as its holder's death."""
        return _seconds("ZHINAO_LEASE_TTL", 60.0)

    @property
    def lease_wait(self) -> float | None:
        """How long a second run of a version waits for the first (None: until it ends; 0: not at all)."""
        return _seconds("ZHINAO_LEASE_WAIT", None)

    @property
    def fingerprints(self) -> Path:
        """This machine's memo of raw files' content digests."""
        return self.home / "file-fingerprints.sqlite"

    def ensure(self) -> "Settings":
        for p in (self.home, self.prefect_home, self.reports):
            p.mkdir(parents=True, exist_ok=True)
        self.catalog_path.parent.mkdir(parents=True, exist_ok=True)
        return self


def get_settings() -> Settings:
    """Read from the environment on every call so tests and subprocesses can redirect it."""
    home = Path(os.environ.get("ZHINAO_HOME", ".zhinao")).expanduser().resolve()
    return Settings(
        home=home,
        store_root=os.environ.get("ZHINAO_STORE", str(home / "store")),
        catalog_path=Path(os.environ.get("ZHINAO_CATALOG", str(home / "catalog.sqlite"))),
        prefect_home=Path(os.environ.get("ZHINAO_PREFECT_HOME", str(home / "prefect"))),
        reports=home / "reports",
        sample_corpus=Path(os.environ.get("ZHINAO_SAMPLE_CORPUS", str(home / "sample-corpus"))),
    )


def _seconds(var: str, default: float | None) -> float | None:
    raw = os.environ.get(var, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{var}={raw!r} is not a number of seconds") from None
    if value < 0:
        raise ValueError(f"{var}={raw!r} must be >= 0")
    return value
