"""The lineage as people read it: a diamond (two versions made from one) shows the shared version
once, sources are summarised unless listed, a depth cut says what lies beyond, and the downstream
graph is the same tree the other way."""
from zhinao.app.cli import main
from zhinao.flows.lineage_view import lines, source_lines, summary, to_markdown
from zhinao.tasks.store import LineageNode, Manifest
from zhinao.tasks.home import open_store


def _m(name: str, parents: list[str] = (), sources: list[dict] = ()) -> Manifest:
    return Manifest(dataset=name, version=f"{name}0000", stage=name, params={}, code="c",
                    parents=list(parents), sources=list(sources), created_at="2026-12-01T10:00:00")


def _diamond(tmp_path):
    crawl = []
    for i in range(5):
        f = tmp_path / f"crawl-{i}.warc.gz"
        f.write_bytes(b"x" * 1024)
        crawl.append({"uri": str(f), "name": f.name, "fingerprint": f"h{i}"})
    ingest = LineageNode(_m("ingest", sources=crawl + [{"name": "library/warcio", "fingerprint": "1.7"}]))
    left = LineageNode(_m("left", ["ingest@ingest0000"]), [ingest])
    right = LineageNode(_m("right", ["ingest@ingest0000"]), [ingest])
    return LineageNode(_m("top", ["left@left0000", "right@right0000"]), [left, right])


def test_a_shared_version_is_expanded_once_and_sources_are_summarised(tmp_path):
    top = _diamond(tmp_path)
    rows = lines(top)
    texts = [r.text for r in rows]
    assert sum(t.startswith("ingest@ingest0000  [") for t in texts) == 1
    assert texts.count("ingest@ingest0000  (shown above)") == 1
    assert "warcio 1.7" in texts
    assert "5 files, 5.0 KB: crawl-0.warc.gz, crawl-1.warc.gz, crawl-2.warc.gz, ... (2 more)" in texts
    assert [r.depth for r in rows if r.text.startswith("ingest@")] == [2, 2]
    listed = [r.text for r in lines(top, sources=True) if r.style == "source"]
    assert len(listed) == 6 and any("crawl-4.warc.gz" in t for t in listed)
    assert "crawl-4.warc.gz" in to_markdown(top)              # the Prefect artifact lists every source
    assert summary(top) == ("top@top0000: 3 upstream version(s) (3 dataset) from 3 stage(s); "
                            "6 distinct raw source(s)")


def test_a_depth_cut_counts_what_lies_beyond(tmp_path):
    rows = lines(_diamond(tmp_path), depth=1)
    assert [r.text.split("  ")[0] for r in rows if r.style == "node"] == ["top@top0000", "left@left0000",
                                                                           "right@right0000"]
    more = [r.text for r in rows if r.style == "more"]
    assert more == ["... 1 more upstream version(s): zhinao lineage left@left0000",
                    "... 1 more upstream version(s): zhinao lineage right@right0000"]
    assert source_lines(_m("bare"), listed=False) == []


def test_downstream_graph_and_the_cli_options(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ZHINAO_HOME", str(tmp_path / "home"))
    store = open_store()
    folders = {}
    for name in ("base", "a", "b", "merged"):
        folders[name] = tmp_path / name
        folders[name].mkdir()
        (folders[name] / "config.json").write_text(f'{{"name": "{name}"}}')
    base = store.import_model("base", folders["base"])
    a = store.import_model("a", folders["a"], parents=[base.ref])
    b = store.import_model("b", folders["b"], parents=[base.ref])
    merged = store.import_model("merged", folders["merged"], parents=[a.ref, b.ref])
    down = store.downstream_graph(base.ref)
    assert sorted(n.manifest.ref for n in down.parents) == sorted([a.ref, b.ref])
    assert down.parents[0].parents[0] is down.parents[1].parents[0]          # merged: one node
    texts = [r.text for r in lines(down, word="downstream")]
    assert texts.count(f"{merged.ref}  (shown above)") == 1

    assert main(["lineage", "merged", "--depth", "1"]) == 0
    out = capsys.readouterr().out
    assert "1 more upstream version(s)" in out and f"the whole graph: zhinao lineage {merged.ref}" in out
    assert main(["lineage", "base", "--direction", "down"]) == 0
    out = capsys.readouterr().out
    assert merged.ref in out and "3 downstream version(s)" in out
