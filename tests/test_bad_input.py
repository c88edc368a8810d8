"""Bad input never stops ingest: a record that cannot be read is a counted drop with its reason and
where it was, a file that cannot be read is a counted drop of that file, a source without documents
is a warning naming it (an error with strict=true), and every good record still arrives."""
import json
import logging
import tempfile
from collections import Counter

import pytest

from zhinao.tasks.ingest.stage import INGEST, IngestParams
from zhinao.flows.stage import execute_stage
from zhinao.tasks.provenance.trace import drop_record
from zhinao.tasks.home import open_store
from tests.bad_inputs import GOOD_WARC, GOOD_WARC_RECORDS, write_bad_corpus

with tempfile.TemporaryDirectory() as _tmp:
    EXPECT = write_bad_corpus(_tmp)             # the same files each time (seeded)
BAD = sorted(name for name, e in EXPECT.items() if e["drops"] or e["empty"])
EMPTY = sorted(name for name, e in EXPECT.items() if e["empty"])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad-corpus")
    assert write_bad_corpus(folder) == EXPECT
    return folder


def ingest(*paths, **kw):
    return execute_stage(INGEST, IngestParams(sources=[str(p) for p in paths], use_ray=False, **kw))


def drops_of(ref):
    store = open_store()
    table = drop_record(store, store.resolve(ref))
    return [] if table is None else [r | json.loads(r["signals"]) for r in table.to_pylist()]


def warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "zhinao.ingest" and r.levelno == logging.WARNING]


@pytest.mark.parametrize("name", BAD)
def test_a_bad_file_costs_only_its_bad_records(corpus, name, caplog):
    e, path = EXPECT[name], corpus / name
    with caplog.at_level(logging.WARNING, logger="zhinao.ingest"):
        r = ingest(path)
    assert r.rows == e["good"] and r.stats["dropped"] == e["dropped"]
    got = drops_of(r.ref)
    assert sorted((d["drop_reason"], d["location"]) for d in got) == sorted((d["reason"], d["location"])
                                                                            for d in e["drops"])
    for want in e["drops"]:
        d = next(d for d in got if (d["drop_reason"], d["location"]) == (want["reason"], want["location"]))
        assert d["source"] == name and want["detail"] in d.get("drop_detail", ""), d
        if want["reason"] == "unreadable_file":        # the drop of a file names the file
            assert d["url"] == str(path)
    said = warnings(caplog)
    assert any(str(path) in w for w in said) == e["empty"], said
    if e["empty"]:
        assert any("no document in 1 source(s)" in w for w in said), said
        assert r.stats["tables"]["source_problems"][0]["source"] == str(path)


def test_a_folder_keeps_every_good_record_beside_the_bad_files(corpus, caplog):
    with caplog.at_level(logging.WARNING, logger="zhinao.ingest"):
        r = ingest(corpus)
    assert r.rows == sum(e["good"] for e in EXPECT.values())
    assert r.stats["dropped"] == dict(sum((Counter(e["dropped"]) for e in EXPECT.values()), Counter()))
    urls = open_store().open_arrow(r.ref)["url"].to_pylist()
    assert sum((u or "").startswith("http://warc.example.com/") for u in urls) == GOOD_WARC_RECORDS
    problems = {p["source"] for p in r.stats["tables"]["source_problems"]}
    assert problems == {str(corpus / n) for n in EMPTY}
    assert all(any(p in w for w in warnings(caplog)) for p in problems)


@pytest.mark.parametrize("name", EMPTY)
def test_strict_fails_on_a_source_without_documents_naming_it(corpus, name):
    with pytest.raises(ValueError, match=f"source {corpus / name} "):
        ingest(corpus / GOOD_WARC, corpus / name, strict=True)
