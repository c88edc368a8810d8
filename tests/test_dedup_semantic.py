"""embed + dedup-semantic: embeddings as a version, SemDeDup removal, re-runs that do not re-embed."""
import numpy as np
import pytest

from zhinao.tasks.semantic.dedup_stage import DEDUP_SEMANTIC, SemanticDedupParams
from zhinao.tasks.semantic.embed_stage import EMBED, EmbedParams
from zhinao.flows.stage import execute_stage
from zhinao.tasks.semantic.embed import column_embeddings
from zhinao.tasks.semantic.encoder import resolve_model
from zhinao.tasks.semantic.semdedup import near_duplicates
from zhinao.tasks.home import open_store
from tests.test_dedup_minhash import commit_docs

TOPICS = [
    "The central bank kept interest rates unchanged and said inflation was close to its target.",
    "The football club signed a young striker from Brazil on a five-year contract.",
    "Researchers found that regular exercise lowers blood pressure in older adults.",
    "The new smartphone has a larger battery and a faster processor than last year's model.",
    "Heavy rain flooded several streets in the old town and closed two schools.",
    "The museum opened an exhibition of ancient Chinese bronze vessels.",
    "A recipe for dumplings: mix the pork with ginger, soy sauce and spring onion.",
    "The court ruled that the landlord must return the tenant's deposit.",
    "市政府批准了新的公共交通预算，将在最繁忙的线路上增加公交车。",
    "研究人员发现，规律运动能够显著降低老年人的血压。",
    "这家餐厅的饺子皮薄馅大，深受当地居民喜爱。",
    "天文学家利用新望远镜发现了一颗围绕红矮星运行的行星。",
]


def corpus():
    ids, texts, planted = [], [], set()
    for i, t in enumerate(TOPICS):
        ids.append(f"doc{i}")
        texts.append(t)
    for i, t in enumerate(TOPICS[:6]):           # near-identical copies: case and spacing edits
        ids.append(f"copy{i}")
        texts.append(t.upper() + "  " if i % 2 else "  " + t.replace(",", " ,"))
        planted.add(f"copy{i}")
    return ids, texts, planted


def test_embed_then_semantic_dedup_removes_planted_copies():
    ids, texts, planted = corpus()
    ref = commit_docs(ids, texts, shard_rows=7)
    e = execute_stage(EMBED, EmbedParams(use_ray=False), inputs={"dedup-minhash": ref})
    store = open_store()
    table = store.open_arrow(e.ref)
    emb = column_embeddings(table["embedding"], 384)
    assert table["id"].to_pylist() == ids and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-4)
    assert [s["name"] for s in store.resolve(e.ref).sources if s["name"].endswith(".safetensors")]  # model in lineage

    r = execute_stage(DEDUP_SEMANTIC, SemanticDedupParams(use_ray=False, audit=True, clusters=3, eps=0.05),
                      inputs={"dedup-minhash": ref, "embed": e.ref})
    dropped = store.open_arrow(r.audit_ref, columns=["id", "dup_of"]).to_pylist()
    removed = {d["id"] for d in dropped}
    # exactly one of each original/copy pair goes; distinct topics all stay
    assert len(removed) == len(planted)
    for i in range(6):
        assert len({f"doc{i}", f"copy{i}"} & removed) == 1
    kept = {d["id"]: d["semantic_cluster"] for d in store.open_arrow(r.ref, columns=["id", "semantic_cluster"]).to_pylist()}
    assert all(kept[d["dup_of"]] == d["dup_of"] for d in dropped)
    assert all(kept[f"doc{i}"] is None for i in range(6, len(TOPICS)))


def test_another_eps_reuses_the_embeddings():
    ids, texts, _ = corpus()
    ref = commit_docs(ids, texts)
    e1 = execute_stage(EMBED, EmbedParams(use_ray=False), inputs={"dedup-minhash": ref})
    runs = [execute_stage(DEDUP_SEMANTIC, SemanticDedupParams(use_ray=False, clusters=2, eps=eps),
                          inputs={"dedup-minhash": ref, "embed": e1.ref}) for eps in (0.02, 0.5)]
    e2 = execute_stage(EMBED, EmbedParams(use_ray=False, batch_size=3), inputs={"dedup-minhash": ref})
    assert e2.cache_hit and e2.version == e1.version           # batch size does not change embeddings
    assert runs[0].version != runs[1].version and runs[1].rows < runs[0].rows


def test_mismatched_embeddings_are_refused():
    ids, texts, _ = corpus()
    a, b = commit_docs(ids, texts), commit_docs(ids[:5], texts[:5])
    e = execute_stage(EMBED, EmbedParams(use_ray=False), inputs={"dedup-minhash": b})
    with pytest.raises(ValueError, match="run `embed` on it first"):
        execute_stage(DEDUP_SEMANTIC, SemanticDedupParams(use_ray=False), inputs={"dedup-minhash": a, "embed": e.ref})


def test_missing_model_is_named():
    with pytest.raises(FileNotFoundError, match="not a sentence-transformers model folder"):
        resolve_model("/nowhere/model")


def test_near_duplicates_follow_chains_to_a_kept_member():
    v = np.array([[1, 0, 0], [0.999, 0.045, 0], [0.998, 0.06, 0.02], [0, 1, 0]], dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    removed, rep = near_duplicates(v, 0.99)
    assert removed.tolist() == [False, True, True, False]
    assert rep[1] == 0 and rep[2] == 0


def test_embed_on_ray_actors_matches_in_process(ray_local, tmp_path, monkeypatch):
    ids, texts, _ = corpus()
    out = []
    for use_ray in (True, False):
        monkeypatch.setenv("ZHINAO_HOME", str(tmp_path / f"h{use_ray}"))
        ref = commit_docs(ids, texts, shard_rows=5)
        r = execute_stage(EMBED, EmbedParams(use_ray=use_ray), inputs={"dedup-minhash": ref})
        out.append((r, column_embeddings(open_store().open_arrow(r.ref)["embedding"], 384)))
    (ray_r, ray_emb), (local_r, local_emb) = out
    assert ray_r.stats["counters"]["splits"] == 4 and ray_r.version == local_r.version
    assert np.allclose(ray_emb, local_emb, atol=1e-5)
