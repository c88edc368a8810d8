"""MinHash LSH stage: accuracy against exact Jaccard truth in English and Chinese, components."""
import numpy as np
import pyarrow as pa
import pytest

from zhinao.tasks.dedup.minhash_stage import DEDUP_MINHASH, MinHashParams
from zhinao.flows.stage import execute_stage
from zhinao.tasks.dedup.minhash import MinHasher, estimated_jaccard
from zhinao.tasks.dedup.shingles import shingle_hashes
from zhinao.tasks.dedup.truthcorpus import f1, generate
from zhinao.tasks.home import open_store


def commit_docs(ids, texts, shard_rows=400, dataset="docs"):
    """A document dataset version straight into the store (input for the stage under test)."""
    tables = [pa.table({"id": ids[k:k + shard_rows], "text": texts[k:k + shard_rows]})
              for k in range(0, len(ids), shard_rows)]
    return open_store().import_tables(dataset, tables).ref


def run_minhash(corpus, **kw):
    ref = commit_docs(corpus.ids, corpus.texts)
    r = execute_stage(DEDUP_MINHASH, MinHashParams(use_ray=False, partitions=4, audit=True, **kw),
                      inputs={"dedup-exact": ref})
    store = open_store()
    kept = store.open_arrow(r.ref, columns=["id", "dup_cluster"]).to_pylist()
    dropped = store.open_arrow(r.audit_ref, columns=["id", "dup_of", "dup_cluster"]).to_pylist()
    return r, kept, dropped


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_minhash_finds_near_duplicates_against_exact_jaccard(lang):
    corpus = generate(1500, lang=lang, seed=3)
    assert corpus.clusters > 50
    r, kept, dropped = run_minhash(corpus)
    predicted = {d["id"] for d in kept if d["dup_cluster"]} | {d["id"] for d in dropped}
    precision, recall, score = f1(predicted, corpus.duplicates)
    assert score >= 0.92, (precision, recall, score)
    # one representative per cluster is kept, carrying its own id as the cluster id
    kept_ids = {d["id"] for d in kept}
    assert all(d["dup_of"] in kept_ids and d["dup_cluster"] == d["dup_of"] for d in dropped)
    assert {d["dup_cluster"] for d in kept if d["dup_cluster"]} == {d["dup_of"] for d in dropped}
    assert r.stats["dropped"]["near_duplicate"] == len(dropped) == len(corpus.ids) - len(kept)
    assert r.stats["counters"]["dup_clusters"] == len({d["dup_of"] for d in dropped})


def test_chinese_text_gets_signatures_by_default():
    """Unspaced Chinese has no whitespace words; character n-grams must still give real shingles."""
    text = "市政府周一批准了新的公共交通预算官员表示这项计划将在最繁忙的线路上增加公交车"
    assert len(shingle_hashes(text, 5)) == len(text) - 4
    sig = MinHasher(14, 8, 5).signatures([text, text.replace("周一", "周二"), ""])
    assert (sig[0] != np.iinfo(np.uint32).max).all()
    assert 0.6 < estimated_jaccard(sig[:1], sig[1:2])[0] < 1.0


def test_signature_estimates_are_unbiased():
    corpus = generate(300, lang="en", dup_share=1.0, seed=5)
    h = MinHasher(14, 8, 5)
    sigs = h.signatures(corpus.texts)
    errors = []
    for i in range(len(corpus.texts) - 1):
        if corpus.families[i] == corpus.families[i + 1]:
            a, b = set(shingle_hashes(corpus.texts[i], 5).tolist()), set(shingle_hashes(corpus.texts[i + 1], 5).tolist())
            errors.append(estimated_jaccard(sigs[i:i + 1], sigs[i + 1:i + 2])[0] - len(a & b) / len(a | b))
    assert len(errors) > 50 and abs(np.mean(errors)) < 0.02 and np.mean(np.abs(errors)) < 0.06


def test_components_join_chains_across_buckets():
    """a~b and b~c (but a not~c) end in one cluster: components, not just pairs."""
    words = [f"word{i}" for i in range(100)]
    a = " ".join(words)
    b = " ".join(words[:40] + ["x1", "x2", "x3", "x4", "x5"] + words[45:])
    c = " ".join(words[:40] + ["x1", "x2", "x3", "x4", "x5"] + words[45:60] + ["y1", "y2", "y3", "y4", "y5"]
                 + words[65:])
    sig = MinHasher(14, 8, 5).signatures([a, b, c])
    est = estimated_jaccard(sig[[0, 1, 0]], sig[[1, 2, 2]])
    assert est[0] >= 0.75 and est[1] >= 0.75 and est[2] < 0.75        # a~b, b~c, a !~ c
    other = "completely different text with other words " * 5
    ref = commit_docs(["a", "b", "c", "z"], [a, b, c, other], shard_rows=2)
    r = execute_stage(DEDUP_MINHASH, MinHashParams(use_ray=False, partitions=3),
                      inputs={"dedup-exact": ref})
    kept = open_store().open_arrow(r.ref, columns=["id", "dup_cluster"]).to_pylist()
    assert {d["id"]: d["dup_cluster"] for d in kept} == {"a": "a", "z": None}


def test_minhash_on_ray_matches_in_process(ray_local, tmp_path, monkeypatch):
    corpus = generate(600, lang="en", seed=11)
    outputs = []
    for use_ray in (True, False):
        monkeypatch.setenv("ZHINAO_HOME", str(tmp_path / f"home-{use_ray}"))
        ref = commit_docs(corpus.ids, corpus.texts, shard_rows=150)
        r = execute_stage(DEDUP_MINHASH, MinHashParams(use_ray=use_ray, partitions=4 + use_ray),
                          inputs={"dedup-exact": ref})
        outputs.append((r, open_store().open_arrow(r.ref, columns=["id", "dup_cluster"]).to_pylist()))
    (ray_result, ray_rows), (local_result, local_rows) = outputs
    assert ray_result.stats["counters"]["workers"] >= 2 and ray_result.stats["counters"]["splits"] == 4
    assert ray_result.version == local_result.version        # partitions do not change what is computed
    assert sorted(ray_rows, key=lambda d: d["id"]) == sorted(local_rows, key=lambda d: d["id"])
