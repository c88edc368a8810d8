"""The manifest: the last file written into a version and the proof that it is complete."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

MANIFEST = "manifest.json"


@dataclass
class Shard:
    path: str            # relative to the version's files folder (Manifest.folder)
    rows: int
    bytes: int
    sha256: str = ""     # of the file's bytes, taken as it was written ("" in manifests made before)


@dataclass
class Manifest:
    dataset: str
    version: str
    stage: str
    params: dict[str, Any]
    code: str
    parents: list[str]                   # "dataset@version" of every input version
    kind: str = "dataset"                # "dataset" | "audit" | "model" | "tokens" | "report"
    schema: list[dict[str, str]] = field(default_factory=list)
    shards: list[Shard] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)   # raw inputs: {uri, fingerprint}
    flow_run_id: str | None = None
    created_at: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    # the drop record: one compact row per dropped row (zhinao/tasks/runtime/drops.py), beside the shards
    drops: list[Shard] = field(default_factory=list)
    # off local disk, the attempt folder under the version that holds the files (each attempt
    # writes its own; the manifest, written once, names the one that won)
    attempt: str = ""

    @property
    def ref(self) -> str:
        return f"{self.dataset}@{self.version}"

    @property
    def folder(self) -> str:
        """Store-relative folder of the version's files."""
        return f"{self.dataset}/{self.version}" + (f"/{self.attempt}" if self.attempt else "")

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.shards)

    @property
    def bytes(self) -> int:
        return sum(s.bytes for s in self.shards)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False, default=str)

    @classmethod
    def from_json(cls, text: str) -> "Manifest":
        raw = json.loads(text)
        raw["shards"] = [Shard(**s) for s in raw.get("shards", [])]
        raw["drops"] = [Shard(**s) for s in raw.get("drops", [])]
        return cls(**raw)


def schema_fields(schema) -> list[dict[str, str]]:
    return [{"name": f.name, "type": str(f.type)} for f in schema] if schema is not None else []
