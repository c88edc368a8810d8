"""The lineage web app on a small store, through FastAPI's test client: the graph, a version's page
and its JSON twin, files and plots served as images, the diff of two versions, and clear errors."""
import struct
import zlib

import pytest
from fastapi.testclient import TestClient

from zhinao.flows.stage import execute_stage
from zhinao.app.ui.app import create_app
from zhinao.app.ui.layout import positions
from zhinao.tasks.home import open_store
from tests.stages import EVENS, NUMBERS, DerivedParams, NumParams


def png(width: int = 3, height: int = 2) -> bytes:
    """A real (tiny, grey) PNG file."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.fixture
def small_store(tmp_path):
    """numbers (two versions) -> evens, and a model made from evens holding a plot."""
    old = execute_stage(NUMBERS, NumParams(use_ray=False, count=10))
    new = execute_stage(NUMBERS, NumParams(use_ray=False, count=20))
    evens = execute_stage(EVENS, DerivedParams(use_ray=False), inputs={"numbers": new.ref})
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "loss.png").write_bytes(png())
    store = open_store()
    model = store.import_model("tiny-model", folder, parents=[evens.ref], stage="train",
                               stats={"tables": {"plots": [{"plot": "loss curve", "path": "/elsewhere/train-x-loss.png"}]}})
    return store, old, new, evens, model


def test_the_graph_shows_current_versions_and_their_upstream(small_store):
    store, old, new, evens, model = small_store
    client = TestClient(create_app(store))
    g = client.get("/api/graph").json()
    refs = {n["ref"] for n in g["nodes"]}
    assert refs == {new.ref, evens.ref, model.ref}            # the older numbers version is not current
    assert {(e["parent"], e["child"]) for e in g["edges"]} == {(new.version, evens.version),
                                                               (evens.version, model.version)}
    x = {n["ref"]: n["x"] for n in g["nodes"]}
    assert x[new.ref] < x[evens.ref] < x[model.ref]           # columns follow the pipeline
    assert {n["ref"] for n in client.get("/api/graph?all=1").json()["nodes"]} == refs | {old.ref}
    focus = client.get("/api/graph", params={"focus": evens.ref}).json()
    assert {n["ref"] for n in focus["nodes"]} == {new.ref, evens.ref, model.ref}
    html = client.get("/").text
    assert html.count("class='node") == 3 and f"/version/{model.ref.replace('@', '%40')}" in html


def test_a_version_page_has_its_facts_and_a_json_twin(small_store):
    store, old, new, evens, model = small_store
    client = TestClient(create_app(store))
    v = client.get(f"/api/version/{evens.ref}").json()
    assert v["parents"][0]["ref"] == new.ref and v["children"][0]["ref"] == model.ref
    assert v["rows_in"] == 20 and v["drops"] == [{"reason": "odd", "rows": 10, "share": 0.5}]
    assert [f["name"] for f in v["schema"]] == ["id", "text", "n"]
    assert len(v["sample"]) == 5 and all(r["n"] % 4 == 0 for r in v["sample"])
    assert v["flow_run_url"] is None                          # run outside Prefect: no link
    page = client.get(f"/version/{evens.ref}").text
    for fact in ("odd", "rows in: 20", "Sample rows", new.ref, model.ref, "Schema"):
        assert fact in page
    # a model's plot is the file inside its version, served through the store
    m = client.get(f"/api/version/{model.ref}").json()
    assert m["plots"] == [{"what": "loss curve", "url": f"/file/{model.ref}/loss.png"}]
    image = client.get(m["plots"][0]["url"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png" and image.content == png()
    assert client.get(f"/file/{model.ref}/../manifest.json").status_code == 404
    assert client.get("/open", params={"ref": "evens"}, follow_redirects=False).headers["location"] \
        == f"/version/{evens.ref.replace('@', '%40')}"


def test_a_diff_of_two_versions_of_one_stage(small_store):
    store, old, new, evens, model = small_store
    client = TestClient(create_app(store))
    d = client.get("/api/diff", params={"a": old.ref, "b": new.ref}).json()
    assert {"key": "count", "a": 10, "b": 20} in d["params"] and d["code"]["same"]
    assert d["rows"]["out"] == {"a": 10, "b": 20}
    assert "count" in client.get("/diff", params={"a": old.ref, "b": new.ref}).text
    wrong = client.get("/api/diff", params={"a": old.ref, "b": evens.ref})
    assert wrong.status_code == 400 and "not versions of one stage" in wrong.json()["error"]
    assert client.get("/api/version/nothing@0").status_code == 404
    assert "no version of dataset" in client.get("/version/nothing").text


def test_the_layout_puts_children_right_of_every_parent():
    nodes = ["a", "b", "c", "d"]
    at = positions(nodes, [("a", "c"), ("b", "c"), ("c", "d"), ("a", "d")])
    assert at["a"][0] == at["b"][0] < at["c"][0] < at["d"][0]
    assert len({at[n] for n in nodes}) == 4                   # no two nodes on one spot
