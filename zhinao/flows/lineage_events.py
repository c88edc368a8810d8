"""OpenLineage run events for every computed stage run: START before the work, COMPLETE after the
commit (inputs: the parent versions; output: the committed version with its schema, version and
statistics), FAIL with the error when it raises. Sent by the `openlineage-python` client: where
the user configured it (OPENLINEAGE_URL, OPENLINEAGE_CONFIG, an openlineage.yml, OPENLINEAGE__*
variables) through that transport, to Marquez for instance; otherwise appended, one JSON event per
line, to <ZHINAO_HOME>/openlineage/events.jsonl. Lineage never breaks a run: a transport that
fails logs a warning. Cache hits run nothing and send nothing.

Inside a Prefect flow run the same moments are also Prefect asset events: the committed dataset
(its key: the store URI of the dataset) is `prefect.asset.materialization.succeeded` (or `.failed`)
with its parents' assets as related upstream assets, each of them `prefect.asset.referenced`,
as Prefect's own @materialize tasks emit them; Prefect Cloud draws its asset graph from these."""
from __future__ import annotations

import logging
import os
import traceback
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import attr

log = logging.getLogger("zhinao.openlineage")
PRODUCER = "https://github.com/zhinao-pipeline/zhinao-pipeline"
# the facet's JSON schema: zhinao/flows/lineage_schemas/ZhinaoVersionRunFacet.json in this repository
FACET_SCHEMA = PRODUCER + "/blob/main/flows/lineage_schemas/ZhinaoVersionRunFacet.json#/$defs/ZhinaoVersionRunFacet"
NAMESPACE_ENV = "ZHINAO_OPENLINEAGE_NAMESPACE"


def _configured() -> bool:
    """Whether the user set up an OpenLineage transport the client itself finds."""
    env = os.environ
    if any(env.get(k) for k in ("OPENLINEAGE_URL", "OPENLINEAGE_CONFIG", "OPENLINEAGE_DISABLED")):
        return True
    if any(k.startswith("OPENLINEAGE__TRANSPORT") for k in env):
        return True
    return any(p.is_file() for p in (Path.cwd() / "openlineage.yml", Path.home() / ".openlineage" / "openlineage.yml"))


@lru_cache(maxsize=4)
def _client(events_file: str | None):
    from openlineage.client import OpenLineageClient

    if events_file is None:
        return OpenLineageClient()
    from openlineage.client.transport.file import FileConfig, FileTransport

    Path(events_file).parent.mkdir(parents=True, exist_ok=True)
    return OpenLineageClient(transport=FileTransport(FileConfig(log_file_path=events_file, append=True)))


def client():
    from zhinao.tasks.settings import get_settings

    return _client(None if _configured() else str(get_settings().home / "openlineage" / "events.jsonl"))


@lru_cache(maxsize=1)
def _facet_class():
    from openlineage.client.facet_v2 import RunFacet

    @attr.define
    class ZhinaoVersionRunFacet(RunFacet):
        """The version the run makes: its id, the fingerprint of its code, its key params, the
        Prefect flow run that ran it."""
        version: str
        code: str
        params: dict[str, Any]
        flowRunId: str | None = None  # noqa: N815

        @staticmethod
        def _get_schema() -> str:
            return FACET_SCHEMA

    return ZhinaoVersionRunFacet


ZHINAO_FACET = "zhinao_version"


def namespace(store) -> str:
    """Where the versions live (the store's URI), unless ZHINAO_OPENLINEAGE_NAMESPACE names it."""
    uri = store.root.uri
    return os.environ.get(NAMESPACE_ENV) or (uri if "://" in uri else Path(uri).resolve().as_uri())


def _dataset(store, m, output: bool = False):
    from openlineage.client.event_v2 import InputDataset, OutputDataset
    from openlineage.client.facet_v2 import dataset_version_dataset, output_statistics_output_dataset, \
        schema_dataset

    facets: dict[str, Any] = {"version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=m.version)}
    if m.schema:
        facets["schema"] = schema_dataset.SchemaDatasetFacet(fields=[
            schema_dataset.SchemaDatasetFacetFields(name=f["name"], type=f["type"]) for f in m.schema])
    if not output:
        return InputDataset(namespace=namespace(store), name=m.dataset, facets=facets)
    stats = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
        rowCount=m.rows, size=m.bytes, fileCount=len(m.shards))
    return OutputDataset(namespace=namespace(store), name=m.dataset, facets=facets,
                         outputFacets={"outputStatistics": stats})


class StageRunEvents:
    """The events of one computed stage run (one run id for its START and its end)."""

    def __init__(self, store, stage: str, version: str, code: str, params: dict, parents: list,
                 flow_run_id: str | None):
        from openlineage.client.uuid import generate_new_uuid

        self.store, self.stage, self.parents = store, stage, parents
        self.run_id = str(generate_new_uuid())
        self.facet = dict(version=version, code=code, params=params, flowRunId=flow_run_id)

    def _emit(self, kind: str, outputs: list | None = None, error: BaseException | None = None) -> None:
        try:
            from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
            from openlineage.client.facet_v2 import error_message_run, job_type_job

            run_facets: dict[str, Any] = {ZHINAO_FACET: _facet_class()(**self.facet)}
            if error is not None:
                run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                    message=f"{type(error).__name__}: {error}", programmingLanguage="python",
                    stackTrace="".join(traceback.format_exception(error))[-20000:])
            job = Job(namespace=namespace(self.store), name=self.stage, facets={
                "jobType": job_type_job.JobTypeJobFacet(processingType="BATCH", integration="ZHINAO", jobType="STAGE")})
            event = RunEvent(eventType=getattr(RunState, kind), eventTime=datetime.now(timezone.utc).isoformat(),
                             run=Run(runId=self.run_id, facets=run_facets), job=job, producer=PRODUCER,
                             inputs=[_dataset(self.store, p) for p in self.parents], outputs=outputs or [])
            client().emit(event)
        except Exception as e:  # noqa: BLE001 - lineage must not fail the stage
            log.warning("OpenLineage %s event of %s not sent: %s: %s", kind, self.stage, type(e).__name__, e)

    def start(self) -> None:
        self._emit("START")

    def complete(self, committed) -> None:
        self._emit("COMPLETE", outputs=[_dataset(self.store, committed, output=True)])
        emit_asset_events(self.store, self.stage, self.parents, True, {
            "version": committed.version, "ref": committed.ref, "kind": committed.kind, "rows": committed.rows,
            "parents": committed.parents, "code": committed.code})

    def fail(self, error: BaseException) -> None:
        self._emit("FAIL", error=error)
        emit_asset_events(self.store, self.stage, self.parents, False, {
            "version": self.facet["version"], "error": f"{type(error).__name__}: {error}"[:2000]})


def asset_key(store, dataset: str) -> str:
    return f"{namespace(store).rstrip('/')}/{dataset}"


def emit_asset_events(store, dataset: str, parents: list, ok: bool, payload: dict | None = None) -> None:
    """Prefect's asset events for one materialization of `dataset` from `parents` (in a flow run)."""
    from prefect.context import FlowRunContext
    from prefect.events import emit_event

    if FlowRunContext.get() is None:
        return
    try:
        keys = {p.dataset: asset_key(store, p.dataset) for p in parents}
        for name, key in keys.items():
            emit_event(event="prefect.asset.referenced", related=[],
                       resource={"prefect.resource.id": key, "prefect.resource.name": name})
        upstream = [{"prefect.resource.id": key, "prefect.resource.role": "asset"} for key in keys.values()]
        emit_event(event=f"prefect.asset.materialization.{'succeeded' if ok else 'failed'}",
                   resource={"prefect.resource.id": asset_key(store, dataset), "prefect.resource.name": dataset},
                   related=upstream + [{"prefect.resource.id": "zhinao", "prefect.resource.role": "asset-materialized-by"}],
                   payload=payload)
    except Exception as e:  # noqa: BLE001 - like OpenLineage: never fail the stage
        log.warning("Prefect asset events of %s not sent: %s: %s", dataset, type(e).__name__, e)
