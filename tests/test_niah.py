"""Needle in a haystack: haystacks from bilingual texts, needles at sentence boundaries by depth,
prompts within their token budget, offline scoring, aggregation and the heatmap."""
import json
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from zhinao.tasks.corpus.labelled import labelled_articles
from zhinao.tasks.eval.niah import (approx_tokens, boundaries, build_haystack, build_items, depth_grid, fact_needles, grid,
                             normalize, plot_heatmap, read_texts, score_items, score_response, script_lang,
                             summarize, token_counter)
from zhinao.tasks.eval.niah.score import best_window_distance


def chars(text: str) -> int:
    """A counter that is exactly additive over any split: non-space characters."""
    return len("".join(text.split()))


@pytest.fixture(scope="module")
def texts():
    return [r["text"] for r in labelled_articles(3)]


@pytest.fixture(scope="module")
def items(texts):
    return build_items(texts, lengths=[800, 1600, 3200], depths=depth_grid(5),
                       variants=("fact", "value", "multikey"), tokenizer=chars, seed=3)


def context_of(prompt: str) -> str:
    return prompt.split("<document>\n", 1)[1].rsplit("\n</document>", 1)[0]


def test_needle_sits_at_the_last_sentence_boundary_at_or_before_its_depth(items):
    for item in (i for i in items if i["variant"] in ("fact", "value")):
        context = context_of(item["prompt"])
        if item["variant"] == "fact":
            needle = next(n.text for n in fact_needles(item["lang"]) if n.answer == item["answer"])
        else:
            needle = re.search(r"(The special magic number for \S+ is: |[^\n.。！？]+的特别魔法数字是：)"
                               + item["answer"] + "[.。]", context).group(0)
        at = context.index(needle)
        haystack = context[:at].rstrip(" ") + context[at + len(needle):]
        cut = len(context[:at].rstrip(" "))
        cuts = boundaries(haystack)
        assert cut in cuts                                          # at a sentence boundary
        share = item["depth"] / 100 * chars(haystack)
        before = chars(haystack[:cut])
        following = next((c for c in cuts if c > cut), len(haystack))
        assert before <= share and (cut == len(haystack) or chars(haystack[:following]) > share), item["id"]
        assert item["actual_depth"] == pytest.approx(100 * before / chars(haystack), abs=0.01)


def test_prompts_fit_their_length_and_are_trimmed_close_to_it(items, texts):
    longest_sentence = max(chars(s) for t in texts for s in re.split(r"(?<=[.!?。！？])\s*|\n", t))
    for item in items:
        assert item["actual_tokens"] == chars(item["prompt"]) <= item["length"]
        assert item["length"] - item["actual_tokens"] <= longest_sentence + 2, item["id"]
    by_length = {}
    for item in items:
        by_length.setdefault(item["length"], set()).add(item["actual_tokens"] // 100)
    assert sorted(by_length) == [800, 1600, 3200]


def test_default_counter_approximates_cjk_and_latin_and_budgets_hold(texts):
    assert approx_tokens("你好，世界") == 5                    # 4 Han characters and a full-width comma
    assert approx_tokens("hello big world") == 4               # 3 words x 1.3, rounded up
    assert approx_tokens("") == 0
    small = build_items(texts, lengths=[300, 700], depths=[0, 50, 100], variants=("fact", "value"))
    assert all(approx_tokens(i["prompt"]) == i["actual_tokens"] <= i["length"] for i in small)
    assert all(i["actual_tokens"] > 0.8 * i["length"] for i in small)
    assert token_counter(lambda t: 7)("x") == 7 and token_counter(None) is approx_tokens


def test_items_are_deterministic_by_seed(texts, items):
    again = build_items(texts, lengths=[800, 1600, 3200], depths=depth_grid(5),
                        variants=("fact", "value", "multikey"), tokenizer=chars, seed=3)
    assert again == items
    other = build_items(texts, lengths=[800], depths=[50], variants=("fact", "value"), tokenizer=chars, seed=4)
    mine = {i["id"]: i for i in items}
    assert all(o["prompt"] != mine[o["id"]]["prompt"] for o in other)
    value = next(o for o in other if o["variant"] == "value")
    assert value["answer"] != mine[value["id"]]["answer"]
    assert build_haystack(texts, 500, seed=1, lang="en") == build_haystack(iter(texts), 500, seed=1, lang="en")
    assert build_haystack(texts, 500, seed=1, lang="en") != build_haystack(texts, 500, seed=2, lang="en")


def test_both_languages_get_their_own_haystack_and_needles(items):
    assert {i["lang"] for i in items} == {"en", "zh"}
    ids = [i["id"] for i in items]
    assert len(ids) == len(set(ids)) == 2 * 3 * 3 * 5
    for item in items:
        context = context_of(item["prompt"])
        assert script_lang(context) == item["lang"]
        if item["lang"] == "zh":
            assert "请只根据文档回答" in item["prompt"] and not re.search(r"\b(the|and|is)\b", context)
        else:
            assert "Answer using only the document" in item["prompt"] and not re.search("[\u4e00-\u9fff]", context)
    zh_fact = next(i for i in items if i["lang"] == "zh" and i["variant"] == "fact")
    assert zh_fact["answer"] in zh_fact["prompt"] and zh_fact["question"].endswith("？")


def test_value_and_multikey_needles_ask_for_one_random_value(items):
    for item in (i for i in items if i["variant"] in ("value", "multikey")):
        assert re.fullmatch(r"\d{7}", item["answer"]) and re.search(item["pattern"], item["answer"])
        key = re.search(r"for (\S+) mentioned|文中提到的(.+)的特别魔法数字", item["question"])
        key = key.group(1) or key.group(2)
        needles = re.findall(r"(?:The special magic number for (\S+) is: |(\S{4,5})的特别魔法数字是：)(\d{7})",
                             context_of(item["prompt"]))
        pairs = {(a or b).lstrip("。"): v for a, b, v in needles}
        assert len(needles) == len(pairs) == (4 if item["variant"] == "multikey" else 1), item["id"]
        assert pairs[key] == item["answer"]


def test_scorer_exact_pattern_near_miss_and_miss():
    answer = "eat a sandwich and sit in Dolores Park on a sunny day"
    pattern = r"sandwich.*dolores park"
    assert score_response("Eat a sandwich, and sit in Dolores Park on a sunny day!", answer, pattern) == \
        {"score": 1.0, "found": True, "method": "exact"}
    assert score_response("１２３４５６７", "1234567")["method"] == "exact"                    # full-width digits
    spaced = score_response("清晨去西湖边喝一杯龙井茶 然后看日出。", "清晨去西湖边喝一杯龙井茶，然后看日出")
    assert spaced["method"] == "exact"
    hit = score_response("You should grab a sandwich and go to Dolores Park.", answer, pattern)
    assert hit == {"score": 1.0, "found": True, "method": "pattern"}
    assert score_response("答案是：放一小勺桂花蜜。", "放一小勺桂花蜜", r"桂花蜜")["method"] == "pattern"
    grouped = score_response("The number is 1,234,567.", "1234567", r"(?<!\d)1234567(?!\d)")
    assert grouped["method"] == "pattern"
    inside = score_response("The document says: eat a sandwich and sit in Dolores Park on a sunny day.", answer)
    assert inside["score"] == 1.0 and inside["method"] == "fuzzy"
    near = score_response("I think: eat a sandwch and sit in Dolores Prak on a sunny day, mostly.", answer, pattern)
    assert near["method"] == "fuzzy" and 0.9 <= near["score"] < 1 and near["found"]
    digit = score_response("1234568", "1234567", r"(?<!\d)1234567(?!\d)")
    assert digit["score"] == pytest.approx(1 - 1 / 7, abs=1e-3) and not digit["found"]
    for miss in ("I don't know.", "", None):
        m = score_response(miss, answer, pattern)
        assert m["score"] < 0.5 and not m["found"]
    assert score_response("abc", "abd", threshold=0.6)["found"]
    assert normalize("  Ｈｅｌｌｏ，  World！ ") == "hello world"
    assert best_window_distance("abc", "xxabcxx") == 0 and best_window_distance("abcd", "zzabxdzz") == 1
    assert best_window_distance("abc", "") == 3


def test_score_items_keeps_fields_and_takes_lists_or_dicts(items):
    few = items[:3]
    by_list = score_items(few, [few[0]["answer"], "no", None])
    by_dict = score_items(few, {few[0]["id"]: few[0]["answer"], few[1]["id"]: "no"})
    assert [r["score"] for r in by_list] == [r["score"] for r in by_dict]
    assert by_list[0]["found"] and by_list[0]["score"] == 1.0 and not by_list[2]["found"]
    assert "prompt" not in by_list[0] and by_list[0]["depth"] == few[0]["depth"]


def _hand_made():
    rows = []
    for lang, base in (("en", 1.0), ("zh", 0.5)):
        for variant in ("fact", "value"):
            for length in (1024, 2048):
                for depth in (0.0, 50.0, 100.0):
                    score = base if depth < 100 or length == 1024 else 0.0
                    rows.append({"lang": lang, "variant": variant, "length": length, "depth": depth,
                                 "score": score, "found": score >= 0.9})
    return rows


def test_aggregation_per_cell_language_and_variant():
    rows = _hand_made()
    s = summarize(rows)
    assert s["overall"]["n"] == 24 and s["overall"]["score"] == pytest.approx((10 * 1.0 + 10 * 0.5) / 24)
    cells = {(c["length"], c["depth"]): c for c in s["cells"]}
    assert cells[(1024, 0.0)]["score"] == pytest.approx(0.75) and cells[(1024, 0.0)]["found"] == 0.5
    assert cells[(2048, 100.0)]["score"] == 0.0 and cells[(2048, 100.0)]["n"] == 4
    assert {r["lang"]: r["score"] for r in s["by_lang"]} == pytest.approx({"en": 10 / 12, "zh": 5 / 12})
    assert {r["variant"]: r["n"] for r in s["by_variant"]} == {"fact": 12, "value": 12}
    assert len(s["by_lang_variant"]) == 4
    depths, lengths, matrix = grid([r for r in rows if not (r["length"] == 2048 and r["depth"] == 50.0)])
    assert depths == [0.0, 50.0, 100.0] and lengths == [1024, 2048]
    assert matrix[1][1] is None and matrix[2] == [pytest.approx(0.75), 0.0]
    assert summarize([])["overall"]["n"] == 0


def test_heatmap_is_written(tmp_path):
    rows = _hand_made()
    for panel in ("lang", "variant", None):
        path = plot_heatmap(rows, tmp_path / "plots" / f"niah-{panel}.png", panel=panel)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    with pytest.raises(ValueError):
        plot_heatmap([], tmp_path / "empty.png")


def test_haystacks_from_a_folder_of_txt_jsonl_and_parquet(tmp_path, texts):
    en = [t for t in texts if script_lang(t) == "en"]
    zh = [t for t in texts if script_lang(t) == "zh"]
    (tmp_path / "a.txt").write_text(en[0], encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.jsonl").write_text(
        "\n".join(json.dumps({"text": t}, ensure_ascii=False) for t in zh[:10]) + "\n\n", encoding="utf-8")
    pq.write_table(pa.table({"text": en[1:10], "n": list(range(9))}), tmp_path / "c.parquet")
    assert list(read_texts(tmp_path)) == [en[0], *en[1:10], *zh[:10]]       # sorted paths: a, c, sub/b
    folder = build_items(tmp_path, lengths=[400], depths=[50], variants=("fact",), tokenizer=chars)
    split = build_items({"en": en[:10], "zh": tmp_path / "sub"}, lengths=[400], depths=[50], variants=("fact",),
                        tokenizer=chars)
    assert [i["lang"] for i in folder] == [i["lang"] for i in split] == ["en", "zh"]
    assert folder[1]["prompt"] == split[1]["prompt"]                        # the same Chinese pool, same seed


def test_impossible_requests_fail_clearly(texts):
    with pytest.raises(ValueError, match="alone take"):
        build_items(texts, lengths=[20], depths=[0], variants=("fact",), tokenizer=chars)
    with pytest.raises(ValueError, match="unknown variants"):
        build_items(texts, lengths=[500], variants=("passkey",))
    with pytest.raises(ValueError, match="no zh texts"):
        build_items([t for t in texts if script_lang(t) == "en"], lengths=[500], depths=[0])


def test_the_projects_own_bpe_tokenizer_counts_exactly(texts):
    from zhinao.tasks.tokenizer.bpe import train_bpe

    tok = train_bpe(texts, vocab_size=400)                   # a `tokenizers.Tokenizer`: encode(...).ids
    made = build_items(texts, lengths=[512, 1024], depths=[0, 50, 100], tokenizer=tok)
    assert all(len(tok.encode(i["prompt"], add_special_tokens=False).ids) == i["actual_tokens"] <= i["length"]
               for i in made)


@pytest.fixture(scope="module")
def smollm2_tokenizer():
    """The default generator's own tokenizer: from its converted folder when this session made one
    (fast), else read from the GGUF (no model conversion)."""
    from zhinao.tasks.generate.models import ModelNotFound, default_gguf, models_dir

    try:
        gguf = default_gguf()
    except ModelNotFound as e:
        pytest.skip(str(e))
    from transformers import AutoTokenizer

    converted = sorted(models_dir().glob(f"{gguf.stem}-*/tokenizer.json"))
    if converted:
        return AutoTokenizer.from_pretrained(converted[0].parent)
    return AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)


def test_prompts_fit_a_real_tokenizer_with_its_chat_template(texts, smollm2_tokenizer):
    tok = smollm2_tokenizer
    reserve = 64                                    # SmolLM2's template adds a system prompt and role markers
    made = build_items(texts, lengths=[512, 2048], depths=[0, 33, 100], variants=("fact", "value", "multikey"),
                       tokenizer=tok, reserve=reserve)
    for item in made:
        n = len(tok.encode(item["prompt"], add_special_tokens=False))
        assert n == item["actual_tokens"] <= item["length"] - reserve and n > 0.8 * (item["length"] - reserve)
        chat = tok.apply_chat_template([{"role": "user", "content": item["prompt"]}], tokenize=True,
                                       add_generation_prompt=True)
        chat = chat["input_ids"] if hasattr(chat, "keys") else chat          # BatchEncoding in transformers 5
        assert len(chat) <= item["length"], item["id"]
    assert {i["lang"] for i in made} == {"en", "zh"}


def test_the_models_context_limits_the_lengths(tmp_path):
    from types import SimpleNamespace

    from zhinao.tasks.eval.niah import context_limit, fitting_lengths

    (tmp_path / "config.json").write_text('{"model_type": "llama", "max_position_embeddings": 256}')
    assert context_limit(tmp_path) == (256, "max_position_embeddings")
    assert context_limit(tmp_path, SimpleNamespace(model_max_length=200)) == (200, "tokenizer model_max_length")
    assert context_limit(tmp_path, SimpleNamespace(model_max_length=int(1e30))) == (256, "max_position_embeddings")
    assert context_limit(tmp_path, None, serving=128) == (128, "the server's max_model_len")
    assert fitting_lengths([384, 128, 256, 768], 256) == ([128, 256], [384, 768])
    assert fitting_lengths([384], None) == ([384], [])
