"""OpenLineage run events: every computed stage run sends START and COMPLETE (or FAIL) with its
input and output datasets, their schema and version facets and the version facet of the run; to a
file by default and to a real HTTP receiver at OPENLINEAGE_URL; each event is valid against the
RunEvent schema. Cache hits send nothing."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

import zhinao.flows.lineage_events as events
from zhinao.flows.stage import execute_stage
from zhinao.tasks.home import open_store
from tests.stages import EVENS, NUMBERS, DerivedParams, NumParams

SCHEMAS = Path(events.__file__).parent / "lineage_schemas"


def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / name).read_text())
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _check(event: dict) -> None:
    errors = sorted(_validator("RunEvent.json").iter_errors(event), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]
    facet = event["run"]["facets"]["zhinao_version"]
    assert not list(_validator("ZhinaoVersionRunFacet.json").iter_errors({"zhinao_version": facet}))
    assert facet["_schemaURL"].startswith(events.PRODUCER) and facet["_schemaURL"].endswith("ZhinaoVersionRunFacet")


@pytest.fixture
def lineage_home(tmp_path, monkeypatch):
    for k in ("OPENLINEAGE_URL", "OPENLINEAGE_CONFIG", "OPENLINEAGE_DISABLED"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("ZHINAO_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)                       # no openlineage.yml of the caller's
    events._client.cache_clear()
    yield tmp_path / "home"
    events._client.cache_clear()


def test_stage_runs_write_valid_events_to_the_default_file(lineage_home):
    store = open_store()
    n = execute_stage(NUMBERS, NumParams(use_ray=False, count=6, per_split=3), store=store)
    e = execute_stage(EVENS, DerivedParams(use_ray=False), store=store)
    assert execute_stage(EVENS, DerivedParams(use_ray=False), store=store).cache_hit
    sent = [json.loads(x) for x in (lineage_home / "openlineage" / "events.jsonl").read_text().splitlines()]
    assert [(x["job"]["name"], x["eventType"]) for x in sent] == [
        ("numbers", "START"), ("numbers", "COMPLETE"), ("evens", "START"), ("evens", "COMPLETE")]
    for x in sent:
        _check(x)
    start, done = sent[2], sent[3]
    assert start["run"]["runId"] == done["run"]["runId"] != sent[0]["run"]["runId"]
    namespace = Path(store.root.uri).resolve().as_uri()
    assert done["job"]["namespace"] == namespace
    assert [(d["namespace"], d["name"], d["facets"]["version"]["datasetVersion"]) for d in done["inputs"]] == \
        [(namespace, "numbers", n.version)]
    out = done["outputs"][0]
    assert (out["name"], out["facets"]["version"]["datasetVersion"]) == ("evens", e.version)
    assert [f["name"] for f in out["facets"]["schema"]["fields"]] == ["id", "text", "n"]
    assert out["outputFacets"]["outputStatistics"]["rowCount"] == e.rows == 3
    facet = done["run"]["facets"]["zhinao_version"]
    assert facet["version"] == e.version and facet["code"] == store.resolve(e.ref).code
    assert "outputs" not in start or start["outputs"] == []


class _Receiver(BaseHTTPRequestHandler):
    got: list = []

    def do_POST(self):  # noqa: N802 - the http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).got.append((self.path, json.loads(body)))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_events_reach_an_http_receiver_and_a_failed_run_sends_fail(lineage_home, monkeypatch, tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Receiver.got = []
    try:
        monkeypatch.setenv("OPENLINEAGE_URL", f"http://127.0.0.1:{server.server_address[1]}")
        store = open_store()
        execute_stage(NUMBERS, NumParams(use_ray=False, count=4), store=store)
        with pytest.raises(IsADirectoryError):      # its calls file is a folder: the stage raises
            execute_stage(NUMBERS, NumParams(use_ray=False, count=5, calls_file=str(tmp_path)), store=store)
    finally:
        server.shutdown()
    assert {path for path, _ in _Receiver.got} == {"/api/v1/lineage"}
    sent = [body for _, body in _Receiver.got]
    assert [x["eventType"] for x in sent] == ["START", "COMPLETE", "START", "FAIL"]
    for x in sent:
        _check(x)
    error = sent[3]["run"]["facets"]["errorMessage"]
    assert error["message"].startswith("IsADirectoryError") and "make_numbers" in error["stackTrace"]
    assert not (lineage_home / "openlineage" / "events.jsonl").exists()      # the configured transport only


def test_a_transport_that_fails_does_not_fail_the_stage(lineage_home, monkeypatch, caplog):
    from zhinao.model.launch import free_port

    # the client's own variables (no retries: it would back off for seconds); nobody listens there
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__TYPE", "http")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__RETRY", json.dumps({"total": 0}))
    with caplog.at_level("WARNING", logger="zhinao.openlineage"):
        r = execute_stage(NUMBERS, NumParams(use_ray=False, count=3), store=open_store())
    assert not r.cache_hit and open_store().resolve(r.ref).rows == 3
    assert "OpenLineage COMPLETE event of numbers not sent: ConnectionError" in caplog.text


def test_a_stage_flow_materializes_prefect_assets_with_its_parents(prefect_harness, lineage_home):
    """Under Prefect the commit is also an asset materialization, its parent an upstream asset; read
    back from the Prefect server's event store."""
    import asyncio
    import time

    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter

    from zhinao.flows.stage import make_flow

    n = make_flow(NUMBERS)(NumParams(use_ray=False, count=4))
    e = make_flow(EVENS)(DerivedParams(use_ray=False))
    store = open_store()
    key = f"{Path(store.root.uri).resolve().as_uri()}/evens"

    async def materialized():
        async with get_client() as client:
            r = await client._client.post("/events/filter", json={"filter": EventFilter(
                event=EventNameFilter(prefix=["prefect.asset."])).model_dump(mode="json"), "limit": 50})
            return r.json()["events"]

    deadline, found = time.monotonic() + 60, []
    while time.monotonic() < deadline:       # the server persists events asynchronously
        found = [x for x in asyncio.run(materialized()) if x["resource"]["prefect.resource.id"] == key]
        if any(x["event"] == "prefect.asset.materialization.succeeded" for x in found):
            break
        time.sleep(1)
    done = next(x for x in found if x["event"] == "prefect.asset.materialization.succeeded")
    assert done["payload"]["version"] == e.version and done["payload"]["parents"] == [n.ref]
    related = {(r["prefect.resource.id"], r["prefect.resource.role"]) for r in done["related"]}
    assert (key.removesuffix("/evens") + "/numbers", "asset") in related
