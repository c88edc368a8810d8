"""Language ID on CJK text: where the text is essentially Han, kana or hangul, the script decides,
whatever fastText lid.176 said, and the label says how it was decided."""
from types import SimpleNamespace

import pyarrow as pa

from zhinao.tasks.langid.model import predict
from zhinao.tasks.langid.stage import langid_batch
from zhinao.tasks.stats import StageStats

CJK_LANGS = {"zh", "ja", "ko", "wuu", "yue"}
# Short Han-only lines as crawls have them (a footer, a register entry, a poem line, an idiom) that
# lid.176's quantised model puts in some other language, often with high confidence
MISLABELLED = ["综上所述", "温故知新", "望梅止渴", "经营状态：存续", "床前明月光", "如有侵权请联系删除",
               "增值电信业务经营许可证", "清明节放假安排", "学生宿舍管理规定"]


def _langid(texts: list[str], keep=("zh", "en")) -> tuple[list[dict], list[dict], StageStats]:
    table = pa.table({"id": [f"d{i}" for i in range(len(texts))], "text": texts})
    params = SimpleNamespace(keep=list(keep), min_score=0.65, min_score_by_lang={})
    stats = StageStats()
    kept, dropped = langid_batch(table, params, stats)
    return kept.to_pylist(), dropped.to_pylist(), stats


def test_han_text_is_chinese_whatever_lid176_says():
    said = [p[0] for p in predict(MISLABELLED, k=1)]
    assert sum(lang not in CJK_LANGS for lang, _ in said) >= 5, said     # the model is wrong on these ...
    assert any(lang == "ko" for lang, _ in said), said                   # ... Korean among them
    kept, dropped, stats = _langid(MISLABELLED)
    assert not dropped, dropped                                          # not dropped for lid.176's low score
    assert [d["lang"] for d in kept] == ["zh"] * len(MISLABELLED)
    assert {d["lang_script"] for d in kept} == {"Hans"}
    assert all(d["lang_method"] == "script" for d, (lang, _) in zip(kept, said) if lang != "zh")
    assert all(0.65 <= d["lang_score"] <= 1 for d in kept)
    assert stats.histograms["lang_method"]["script"] == sum(lang != "zh" for lang, _ in said)
    assert stats.histograms["lang_corrected"]["ko->zh"] >= 1


def test_kana_hangul_and_mixed_text_keep_their_language():
    cases = {"東京は日本の首都です。": "ja",
             "今日はとても良い天気ですね。散歩に行きましょう。": "ja",
             "한국어 문장입니다.": "ko",
             "서울은 대한민국의 수도입니다.": "ko",
             "The restaurant serves 北京烤鸭 and 小笼包 to tourists every evening in London.": "en",
             "The word 你好 means hello, and people say it many times a day.": "en",
             "我们使用Python进行数据分析，效果很好。": "zh"}
    kept, dropped, _ = _langid(list(cases), keep=())
    rows = kept + dropped                                     # some short lines fall under min_score
    assert {d["text"]: d["lang"] for d in rows} == cases
    english = [d for d in rows if d["lang"] == "en"]
    assert all(d["lang_method"] == "model" for d in english)    # a few quoted Han words do not overrule it
