"""extract -> langid -> quality -> dedup-exact on the sample crawl and on targeted inputs."""
import json
from collections import Counter

import pyarrow as pa
import pytest

from zhinao.tasks.dedup.exact_stage import DEDUP_EXACT, ExactDedupParams
from zhinao.tasks.extract.stage import EXTRACT, ExtractParams
from zhinao.tasks.ingest.stage import INGEST, IngestParams
from zhinao.tasks.langid.stage import LANGID, LangIdParams
from zhinao.tasks.quality.stage import QUALITY, QualityParams
from zhinao.flows.stage import execute_stage
from zhinao.tasks.extract.evaluate import score
from zhinao.tasks.extract.extractors import EXTRACTORS
from zhinao.tasks.langid.model import predict
from zhinao.tasks.langid.script import chinese_script, correct_cjk
from zhinao.tasks.quality.c4 import C4Config, c4
from zhinao.tasks.quality.fineweb import FineWebConfig, fineweb
from zhinao.tasks.quality.gopher import GopherQualityConfig, GopherRepetitionConfig, gopher_quality, gopher_repetition
from zhinao.tasks.quality.text import Doc
from zhinao.tasks.home import open_store
from tests.conftest import shared_data


CHAIN = ((EXTRACT, ExtractParams), (LANGID, LangIdParams), (QUALITY, QualityParams),
         (DEDUP_EXACT, ExactDedupParams))


def _chain(sample_crawl, shard_rows: int) -> dict:
    refs = {"ingest": execute_stage(INGEST, IngestParams(sources=[str(sample_crawl)], use_ray=False,
                                                         shard_rows=shard_rows))}
    for stage, params in CHAIN:
        refs[stage.name] = execute_stage(stage, params(use_ray=False, audit=True),
                                         inputs={stage.inputs[0]: refs[stage.inputs[0]].ref})
    return refs


@pytest.fixture(scope="module")
def cleaned(sample_crawl, tmp_path_factory):
    """The sample crawl through every cleaning stage (in-process), with audit versions."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZHINAO_HOME", str(tmp_path_factory.mktemp("clean-home")))
        refs = _chain(sample_crawl, shard_rows=100)
        truth = {t["url"]: t for t in json.loads((sample_crawl / "truth.json").read_text())["records"]}
        yield refs, truth, open_store(), sample_crawl


def _kinds(store, ref, truth):
    return Counter(truth[u]["kind"] for u in store.open_arrow(ref, columns=["url"])["url"].to_pylist())


def test_extract_keeps_main_text_and_drops_boilerplate(cleaned):
    refs, truth, store, _ = cleaned
    docs = store.open_arrow(refs["extract"].ref).to_pylist()
    assert len(docs) == refs["ingest"].rows
    for d in docs:
        t = truth[d["url"]]
        if t["kind"] != "article":
            continue
        for para in t["text"].split("\n\n"):
            assert para in d["text"], d["url"]
        for boiler in ("Contact us", "联系我们", "All rights reserved", "保留所有权利", "Advertisement", "广告："):
            assert boiler not in d["text"]
        assert d["title"] and d["extractor"] == "auto"


def test_extract_passes_text_documents_and_drops_empty_pages(tmp_path):
    (tmp_path / "d.jsonl").write_text(json.dumps({"text": "already text", "url": "u1"}) + "\n")
    execute_stage(INGEST, IngestParams(sources=[str(tmp_path / "d.jsonl")], use_ray=False))
    r = execute_stage(EXTRACT, ExtractParams(use_ray=False))
    doc = open_store().open_arrow(r.ref).to_pylist()[0]
    assert doc["text"] == "already text" and doc["extractor"] == "none"
    from zhinao.tasks.extract.stage import extract_batch
    from types import SimpleNamespace
    from zhinao.tasks.stats import StageStats

    table = pa.table({"id": ["a", "b"], "text": ["", ""], "url": ["x", "y"],
                      "html": ["<html><body><nav>menu</nav></body></html>", "<html><body></body></html>"]})
    kept, dropped = extract_batch(table, SimpleNamespace(extractor="auto", min_chars=20), StageStats())
    assert kept.num_rows == 0 and dropped["drop_reason"].to_pylist() == ["no_main_text", "no_main_text"]


def test_auto_extraction_beats_each_extractor_on_real_pages():
    folder = shared_data("extraction-en")
    f1 = {name: score(EXTRACTORS[name], folder)["f1"] for name in ("trafilatura", "resiliparse", "auto")}
    assert f1["auto"] >= 0.97
    assert f1["auto"] > f1["trafilatura"] and f1["auto"] > f1["resiliparse"]


def test_langid_on_the_sample(cleaned):
    refs, truth, store, _ = cleaned
    kept = store.open_arrow(refs["langid"].ref, columns=["url", "lang", "lang_score", "lang_script"]).to_pylist()
    zh_pages = [t for t in truth.values() if t["lang"] == "zh" and t["kind"] in ("article", "near_dup", "exact_dup")]
    zh_found = {d["url"] for d in kept if d["lang"] == "zh"}
    assert sum(t["url"] in zh_found for t in zh_pages) / len(zh_pages) >= 0.99
    assert all(truth[d["url"]]["lang"] == d["lang"] for d in kept)
    assert not [d for d in kept if truth[d["url"]]["kind"] == "other_lang"]
    assert {d["lang_script"] for d in kept if d["lang"] == "zh"} == {"Hans"}
    assert all(0.65 <= d["lang_score"] <= 1 for d in kept)
    dropped = store.open_arrow(refs["langid"].audit_ref, columns=["url", "drop_reason"]).to_pylist()
    assert {truth[d["url"]]["lang"] for d in dropped if d["drop_reason"] == "lang_not_kept"} <= {"fr", "de", "es", "ru", "ja"}


def test_langid_script_evidence_fixes_cjk_confusions():
    cases = {"今天天气很好": "zh", "東京は日本の首都です。": "ja", "한국어 문장입니다.": "ko",
             "我们明天去北京。": "zh", "學習中文很有趣，我們一起努力吧。": "zh"}
    for text, lang in cases.items():
        assert correct_cjk(predict([text])[0][0][0], text) == lang, text
    assert correct_cjk("ja", "中国人民银行今日宣布降息") == "zh"        # kanji only: not Japanese
    assert chinese_script("學習中文很有趣，我們一起努力吧。") == "Hant"
    assert chinese_script("学习中文很有趣，我们一起努力吧。") == "Hans"


def test_langid_keep_list_by_script(tmp_path):
    from types import SimpleNamespace
    from zhinao.tasks.langid.stage import langid_batch
    from zhinao.tasks.stats import StageStats

    table = pa.table({"id": ["s", "t"], "text": ["学习中文很有趣，我们一起努力吧。这是简体字。",
                                                 "學習中文很有趣，我們一起努力吧。這是繁體字。"], "lang": [None, None]})
    params = SimpleNamespace(keep=["zh-Hans"], min_score=0.5, min_score_by_lang={})
    kept, dropped = langid_batch(table, params, StageStats())
    assert kept["id"].to_pylist() == ["s"] and dropped["drop_reason"].to_pylist() == ["lang_not_kept"]


PROSE_EN = ("The city council approved the new budget for public transport on Monday. Officials said that the "
            "plan would add more buses to the busiest routes and extend the hours of the night service. "
            "Residents can read the full proposal at the library, and they have until the end of the month "
            "to send their comments to the council. The mayor said that the changes were long overdue. Several "
            "residents welcomed the decision at the meeting.")
PROSE_ZH = ("市政府周一批准了新的公共交通预算。官员表示，这项计划将在最繁忙的线路上增加公交车，并延长夜间服务的时间。"
            "居民可以在图书馆阅读完整的方案，并在月底前向市政府提交意见。市长说，这些变化早就应该进行了。"
            "不少市民对这一决定表示欢迎，认为出行将会更加方便。")


def test_gopher_rules_are_cjk_aware():
    cfg = GopherQualityConfig()
    assert gopher_quality(Doc(PROSE_EN, "en"), cfg)[1] is None
    sig, reason = gopher_quality(Doc(PROSE_ZH, "zh"), cfg)
    assert reason is None and sig["gq_avg_word_length"] < cfg.min_avg_word_length   # an English bound would drop it
    assert gopher_quality(Doc(PROSE_ZH.replace("的", "").replace("了", "").replace("在", "")
                              .replace("和", "").replace("是", "").replace("将", "").replace("对", ""), "zh"), cfg)[1] \
        == "min_stop_words"
    assert gopher_quality(Doc("buy now " * 10, "en"), cfg)[1] == "min_doc_words"


def test_gopher_repetition_catches_repeated_content():
    cfg = GopherRepetitionConfig()
    assert gopher_repetition(Doc(PROSE_EN, "en"), cfg)[1] is None
    assert gopher_repetition(Doc(PROSE_ZH, "zh"), cfg)[1] is None
    assert gopher_repetition(Doc("\n".join(["Buy cheap watches here today."] * 5 + [PROSE_EN]), "en"),
                             cfg)[1] == "dup_line_frac"
    assert gopher_repetition(Doc("免费领取 高额返利 点击进入 " * 30, "zh"), cfg)[1].startswith(("top_", "dup_"))


def test_c4_and_fineweb_rules():
    assert c4(Doc(PROSE_EN, "en"), C4Config())[1] is None
    assert c4(Doc(PROSE_ZH, "zh"), C4Config())[1] is None               # sentences end in 。
    assert c4(Doc(PROSE_EN + " Lorem ipsum dolor sit amet.", "en"), C4Config())[1] == "lorem_ipsum"
    assert c4(Doc(PROSE_EN + " var x = {a: 1};", "en"), C4Config())[1] == "curly_bracket"
    assert fineweb(Doc(PROSE_ZH, "zh"), FineWebConfig())[1] is None
    menu = "\n".join(["Home", "News", "Sport", "Weather", "Contact"] * 2)
    assert fineweb(Doc(menu, "en"), FineWebConfig())[1] == "line_punct_ratio"


def test_quality_on_the_sample(cleaned):
    refs, truth, store, _ = cleaned
    before, after = _kinds(store, refs["langid"].ref, truth), _kinds(store, refs["quality"].ref, truth)
    assert after["spam"] == 0 and after["low_quality"] == 0
    assert after["article"] >= 0.98 * before["article"]
    assert all(r.split(".")[0] in ("gopher_repetition", "gopher_quality", "c4", "fineweb")
               for r in refs["quality"].stats["dropped"])
    doc = store.open_arrow(refs["quality"].ref).to_pylist()[0]
    assert doc["gq_words"] > 0 and doc["fw_line_punct_ratio"] is not None


def test_quality_handles_enormous_and_empty_documents():
    from types import SimpleNamespace
    from zhinao.tasks.quality.stage import quality_batch
    from zhinao.tasks.stats import StageStats

    params = QualityParams()
    ns = SimpleNamespace(**params.model_dump())
    table = pa.table({"id": ["big", "empty", "binary"], "lang": ["en", "en", None],
                      "text": ["word " * 600_000, "", "\x00\x01\x02" * 100]})
    kept, dropped = quality_batch(table, ns, StageStats())
    assert kept.num_rows == 0
    assert dropped["drop_reason"].to_pylist()[0] == "too_long"
    with pytest.raises(ValueError, match="unknown quality filter"):
        quality_batch(table, SimpleNamespace(**(params.model_dump() | {"filters": ["nope"]})), StageStats())


def test_exact_dedup_removes_every_planted_copy_deterministically(cleaned):
    refs, truth, store, sample_crawl = cleaned
    kept = store.open_arrow(refs["dedup-exact"].ref, columns=["url", "text_hash"]).to_pylist()
    hashes = [d["text_hash"] for d in kept]
    assert len(hashes) == len(set(hashes))
    planted = sum(t["kind"] == "exact_dup" for t in truth.values())
    assert refs["dedup-exact"].stats["dropped"]["exact_duplicate"] == refs["quality"].rows - refs["dedup-exact"].rows
    assert refs["dedup-exact"].stats["dropped"]["exact_duplicate"] >= planted - 1   # a planted copy may fail quality
    audit = store.open_arrow(refs["dedup-exact"].audit_ref).to_pylist()
    kept_ids = set(store.open_arrow(refs["dedup-exact"].ref, columns=["id"])["id"].to_pylist())
    assert all(a["dup_of"] in kept_ids for a in audit)
    # the same corpus sharded differently keeps the same copies
    resharded = _chain(sample_crawl, shard_rows=37)["dedup-exact"]
    assert resharded.version != refs["dedup-exact"].version
    assert set(open_store().open_arrow(resharded.ref, columns=["id"])["id"].to_pylist()) == kept_ids


def test_bad_documents_pass_every_stage_without_crashing(tmp_path):
    """Empty text, a 20 MB document, binary garbage, mixed scripts, pathological repetition."""
    from zhinao.tasks.dedup.minhash_stage import DEDUP_MINHASH, MinHashParams
    from zhinao.tasks.semantic.dedup_stage import DEDUP_SEMANTIC, SemanticDedupParams
    from zhinao.tasks.semantic.embed_stage import EMBED, EmbedParams

    docs = [("empty", ""), ("huge", ("Enormous page text goes on. " * 750_000)),
            ("binary", "".join(chr(c) for c in range(1, 32)) * 200 + bytes(range(128, 256)).decode("latin-1") * 50),
            ("undecodable", "\ufffd" * 500 + "x"),
            ("mixed", "English words 中文字符 日本語のかな 한국어 русский текст " * 40),
            ("repeat", "spam spam spam spam " * 5000), ("good-en", PROSE_EN), ("good-zh", PROSE_ZH)]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(json.dumps({"id": i, "text": t, "url": f"http://x/{i}"}) for i, t in docs) + "\n")
    refs = {"ingest": execute_stage(INGEST, IngestParams(sources=[str(path)], use_ray=False, max_record_bytes=64 << 20))}
    assert refs["ingest"].stats["dropped"] == {"empty_body": 1, "undecodable": 1}
    for stage, params in CHAIN + ((DEDUP_MINHASH, MinHashParams), (EMBED, EmbedParams)):
        refs[stage.name] = execute_stage(stage, params(use_ray=False), inputs={stage.inputs[0]: refs[stage.inputs[0]].ref})
    r = execute_stage(DEDUP_SEMANTIC, SemanticDedupParams(use_ray=False),
                      inputs={"dedup-minhash": refs["dedup-minhash"].ref, "embed": refs["embed"].ref})
    kept = set(open_store().open_arrow(r.ref, columns=["id"])["id"].to_pylist())
    assert kept == {"good-en", "good-zh"}
    q = refs["quality"].stats["dropped"]
    assert q.get("too_long") == 1 and sum(q.values()) >= 2
