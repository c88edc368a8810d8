"""ingest: raw crawl files (WARC / WET / JSONL / Parquet) -> documents with HTML kept for extraction."""
from pydantic import Field

from zhinao.tasks.corpus.generate import generate
from zhinao.tasks.declare import Plan, RunContext, Stage
from zhinao.tasks.ingest.documents import DEFAULT_FIELDS, SCHEMA
from zhinao.tasks.ingest.sources import expand, process_file, report_sources, split_for
from zhinao.tasks.params import StageParams
from zhinao.tasks.settings import get_settings
from zhinao.tasks.store import file_fingerprint


SAMPLE = "sample"


class IngestParams(StageParams):
    sources: list[str] = Field(
        default_factory=lambda: [SAMPLE],
        description="Files, folders (searched recursively) or globs of .warc[.gz], .wet[.gz], .jsonl[.gz], "
                    ".parquet or .txt[.gz] (one document per text file); URIs (s3://...) work through fsspec. 'sample' is the embedded sample crawl, "
                    "generated under ZHINAO_HOME on first use.")
    max_record_bytes: int = Field(2 << 20, gt=0, description="Records with a larger payload are dropped as "
                                                             "'oversize' without being read into memory.")
    max_bad_char_ratio: float = Field(0.01, ge=0, le=1, description="Drop pages as 'undecodable' when more than "
                                                                    "this share of characters cannot be decoded.")
    verify_digests: bool = Field(True, description="Check WARC payload/block SHA-1 digests; a record that "
                                                   "fails is dropped as 'truncated_record'.")
    shard_rows: int = Field(5000, gt=0, description="Documents per output Parquet shard.")
    fields: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_FIELDS),
        description="For JSONL/Parquet sources: which source field feeds each document column "
                    "(keys: text, url, id, timestamp, lang; unnamed keys keep their default).")
    strict: bool = Field(False, description="Fail when a source yields no document (unreadable, empty, or "
                                            "every record dropped), naming it; by default that is a warning "
                                            "and the other sources are ingested.")


def resolve_sources(specs: list[str]) -> list[str]:
    out = []
    for spec in specs:
        if spec == SAMPLE:
            folder = get_settings().sample_corpus
            if not (folder / "truth.json").exists():
                generate(folder)
            out.append(str(folder))
        else:
            out.append(spec)
    return expand(out)


def plan_ingest(params: IngestParams, parents, store) -> Plan:
    files = resolve_sources(params.sources)
    # Sources enter the version id by name and content fingerprint, not by absolute path, so a copy
    # of the same crawl elsewhere is a cache hit.
    sources = [{"uri": f, "name": split_for(f)["source"], "fingerprint": file_fingerprint(f)} for f in files]
    return Plan(splits=[split_for(f) for f in files], sources=sources)


def run(ctx: RunContext):
    results = ctx.final(process_file, ctx.plan.splits)
    report_sources(ctx.plan.splits, results)
    return results


INGEST = Stage(
    name="ingest", tags=("data",), pipeline="data",
    params=IngestParams,
    plan=plan_ingest,
    process=process_file,
    run=run,
    schema=SCHEMA,
    code=("zhinao.tasks.ingest", "zhinao.tasks.schema", "zhinao.tasks.runtime.sink"),
    description="Read crawl files into documents: charset detection and decoding, HTML kept for "
                "extraction, malformed records and unreadable files counted by reason and skipped.",
)
