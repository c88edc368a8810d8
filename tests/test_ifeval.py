"""IFEval verifiable instructions: every checker on compliant and violating responses in English and
Chinese (the Chinese rules included), loose vs strict, hand-computed aggregates, data-layout errors,
seeded constraints for instruction evolution and the default prompt set."""
import json

import pytest

from zhinao.tasks.eval.ifeval import (INSTRUCTIONS, IFEvalError, add_constraints, build, complies, conflicting,
                               default_prompts, evaluate, follows, make, parse_record, read_inputs, read_responses,
                               reward, variants)
from zhinao.tasks.eval.ifeval.lang import detect

# (instruction id, kwargs, compliant responses, violating responses)
CASES = [
    ("keywords:existence", {"keywords": ["coffee", "morning"]},
     ["Every Morning I drink COFFEE."], ["I drink coffee at night."]),
    ("keywords:existence", {"keywords": ["饺子", "红包"]}, ["春节要吃饺子、发红包。"], ["春节要吃饺子。"]),
    ("keywords:existence", {"keywords": ["AI"]}, ["ＡＩ很重要。"], ["人工智能很重要。"]),     # full-width letters
    ("keywords:frequency", {"keyword": "robot", "frequency": 3, "relation": "at least"},
     ["Robot. robot! ROBOT?"], ["robot and robot"]),
    ("keywords:frequency", {"keyword": "robot", "frequency": 2, "relation": "less than"},
     ["one robot", "none"], ["robot and robot"]),
    ("keywords:frequency", {"keyword": "阅读", "frequency": 3, "relation": "at least"},
     ["阅读使人进步，阅读让人快乐，我爱阅读。"], ["阅读很好，阅读很重要。"]),
    ("keywords:forbidden_words", {"forbidden_words": ["cat"]},
     ["Category theory and concatenation."], ["The Cat sat."]),                   # whole Latin words
    ("keywords:forbidden_words", {"forbidden_words": ["夏天"]},
     ["秋天到了。"], ["我怀念夏天的海边。"]),                                        # Han: substrings
    ("keywords:forbidden_words", {"forbidden_words": ["AI"]}, ["MAIN 芯片"], ["AI芯片很贵。"]),
    ("keywords:letter_frequency", {"letter": "z", "let_frequency": 2, "let_relation": "at least"},
     ["Zebras zigzag.", "斑马ＺＯＯ里的ｚ"], ["A lazy day.", "没有字母"]),
    ("keywords:letter_frequency", {"letter": "Z", "let_frequency": 1, "let_relation": "less than"},
     ["没有字母", "A day."], ["Zero."]),
    ("keywords:letter_frequency", {"letter": "!", "let_frequency": 2, "let_relation": "at least"},
     ["yes!!", "好！！"], ["yes!"]),                                             # as IFEval's own file asks
    ("language:response_language", {"language": "zh"},
     ["阅读可以开阔眼界，增长知识。"], ["Reading broadens the mind."]),
    ("language:response_language", {"language": "en"},
     ["Reading broadens the mind and teaches patience."], ["阅读可以开阔眼界。"]),
    ("language:response_language", {"language": "zh-Hant"},
     ["閱讀可以開闊眼界，增長知識，讓人變得更加聰明。"], ["阅读可以开阔眼界，增长知识，让人变得更加聪明。"]),
    ("length_constraints:number_sentences", {"num_sentences": 3, "relation": "less than"},
     ["One. Two!", "我喜欢苹果。你呢？", "Mr. Smith paid 3.14 dollars. Then left."],
     ["One. Two! Three?", "我喜欢苹果。你呢？当然！", "第一句。第二句。第三句。"]),        # no space after 。
    ("length_constraints:number_sentences", {"num_sentences": 4, "relation": "at least"},
     ["好吧；就这样……最后。还有！", "Yes; no; maybe. Fine!"], ["好吧；就这样……最后。"]),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 3},
     ["A\n***\nB\n***\nC", "第一段。\n***\n第二段。\n***\n第三段。", "***\nA\n***\nB\n***\nC\n***"],
     ["A\n***\nB", "A\n***\n***\nC", "A\n\nB\n\nC"]),
    ("length_constraints:number_words", {"num_words": 5, "relation": "less than"},
     ["one two three four", "我喜欢苹果"], ["one two three four five"]),
    ("length_constraints:number_words", {"num_words": 3, "relation": "at least"},
     ["我喜欢苹果", "I like apples"], ["我们", "two words"]),                         # jieba: 我/喜欢/苹果
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 3, "nth_paragraph": 2, "first_word": "then"},
     ["Intro.\n\nThen, we left.\n\nEnd.", "Intro.\n\n\"Then\" he said.\n\nEnd."],
     ["Intro.\n\nAfter that.\n\nEnd.", "Intro.\n\nThen we left.", "Intro.\n\nThenceforth.\n\nEnd."]),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 3, "nth_paragraph": 2, "first_word": "然后"},
     ["周六早上睡懒觉。\n\n然后去公园散步。\n\n晚上看电影。", "周六。\n\n“然后呢？”\n\n晚上。"],
     ["周六。\n\n接着然后。\n\n晚上。", "周六。\n\n然后去公园。"]),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "python"},
     ["介绍。\n\nPython是一种语言。"], ["介绍。\n\nPythonic 风格。"]),
    ("detectable_content:number_placeholders", {"num_placeholders": 2},
     ["Dear [name], at [address].", "尊敬的［姓名］：您好，我在【公司名称】工作。"], ["Dear [name].", "尊敬的先生："]),
    ("detectable_content:postscript", {"postscript_marker": "P.S."},
     ["Letter body.\n\nP.S. See you soon.", "Body\np. s. call me", "Body\n**P.S.** call me"],
     ["Body without it.", "Body. P.S. inline is not a postscript"]),
    ("detectable_content:postscript", {"postscript_marker": "P.P.S"}, ["Hi\nP.P.S hello"], ["Hi\nP.S. hello"]),
    ("detectable_content:postscript", {"postscript_marker": "附言："},
     ["正文。\n附言：记得回信。", "正文。\n附言:记得回信。"], ["正文。", "正文附言：没有换行。"]),
    ("detectable_format:number_bullet_lists", {"num_bullets": 3},
     ["* a\n* b\n- c", "* a\n* b\n* c\n***", "* 多练习。\n* 多阅读代码。\n* 多提问。"],
     ["* a\n* b", "**bold**\n* a\n* b", "1. 多练习\n2. 多阅读\n3. 多提问"]),
    ("detectable_format:constrained_response", {},
     ["My answer is no.", "My answer is yes. Because...", "我的答案是：否。", "我的答案是:否。"], ["No.", "不是。"]),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2},
     ["*one* and **two**", "*人工智能*是**计算机科学**的分支"], ["*one* and ** **", "人工智能是计算机科学的分支"]),
    ("detectable_format:multiple_sections", {"section_spliter": "SECTION", "num_sections": 2},
     ["SECTION 1\nA\nSECTION 2\nB", "## SECTION 1\nA\n**SECTION 2**\nB"],
     ["SECTION 1\nA", "Section 1\nA\nSection 2\nB"]),
    ("detectable_format:multiple_sections", {"section_spliter": "部分", "num_sections": 2},
     ["部分 1\n内容\n部分2\n内容", "部分 一\n内容\n部分 二\n内容"], ["部分 1\n内容"]),
    ("detectable_format:json_format", {},
     ['{"a": 1}', '```json\n{"title": "书"}\n```'], ['Here: {"a": 1}', "{'a': 1}", "{“书名”：“红楼梦”}"]),
    ("detectable_format:title", {},
     ["<<Ode>>\ntext", "<<月光>>\n床前明月光", "＜＜月光＞＞\n床前明月光"], ["<< >>\ntext", "《红楼梦》是一部小说。"]),
    ("combination:two_responses", {},
     ["A\n******\nB", "秋天来了。\n******\n落叶纷飞。"], ["A\n******\nA", "A\n******\n******\nB", "A"]),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Write a poem."},
     ["write a poem. Roses are red."], ["Sure! Write a poem. Roses are red."]),
    ("combination:repeat_prompt", {"prompt_to_repeat": "用一句话说明为什么要多喝水。"},
     ["用一句话说明为什么要多喝水。因为水是生命之源。"], ["因为水是生命之源。"]),
    ("startend:end_checker", {"end_phrase": "Any other questions?"},
     ["Done. Any other questions?", '"Done. any other questions?"'], ["Any other questions? Bye."]),
    ("startend:end_checker", {"end_phrase": "还有其他问题吗？"},
     ["以上就是建议。还有其他问题吗?", "「以上就是建议。还有其他问题吗？」"], ["还有其他问题吗？谢谢。"]),
    ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": "at least"},
     ["NASA and the FBI", "GPU和CPU的区别"], ["Nasa and the Fbi", "图形处理器和中央处理器"]),
    ("change_case:capital_word_frequency", {"capital_frequency": 1, "capital_relation": "less than"},
     ["没有英文。", "only lowercase"], ["one USA"]),
    ("change_case:english_capital", {},
     ["THIS IS MY ANSWER. I LOVE FOOTBALL AND WE WILL WIN TODAY."],
     ["This is my answer.", "这是我的回答。", "我的回答是 YES AND NO"]),
    ("change_case:english_lowercase", {},
     ["this is my answer and i love cats."], ["This is my answer.", "这是我的回答。", "我喜欢 python 和 java 编程语言。"]),
    ("punctuation:no_comma", {}, ["No commas here.", "苹果和香蕉。"], ["a, b", "苹果，香蕉", "苹果、香蕉", "苹果﹐香蕉"]),
    ("startend:quotation", {}, ['"Hello"', "“你好”", "「你好」", "  『你好』\n"], ["“你好\"", "Hello", '"']),
]


def test_every_instruction_id_has_cases():
    assert len(INSTRUCTIONS) == 25
    assert {c[0] for c in CASES} == set(INSTRUCTIONS)


@pytest.mark.parametrize("iid,kwargs,good,bad", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_checker(iid, kwargs, good, bad):
    checker = build(iid, kwargs)
    assert [checker.check(r) for r in good] == [True] * len(good)
    assert [checker.check(r) for r in bad] == [False] * len(bad)


def test_case_rules_and_language_agree_on_chinese():
    """No Latin letters: english_* fail (the response is not English), as the language ID says."""
    text = "这是一个完全用中文写的回答。"
    assert detect(text)[0] == "zh"
    assert not build("change_case:english_capital").check(text)
    assert not build("change_case:english_lowercase").check(text)
    assert build("language:response_language", {"language": "zh"}).check(text)


def test_loose_is_strict_on_variants():
    no_comma = build("punctuation:no_comma")
    intro = "Sure, here you go:\nNo commas in this line"
    assert not follows(no_comma, intro) and follows(no_comma, intro, loose=True)     # first line removed
    end = build("startend:end_checker", {"end_phrase": "Any other questions?"})
    starred = "Done. **Any other questions?**"
    assert not follows(end, starred) and follows(end, starred, loose=True)         # * removed
    quote = build("startend:quotation")
    framed = '以下是我的回答：\n"你好"\n希望有帮助'
    assert not follows(quote, framed) and follows(quote, framed, loose=True)       # both lines removed
    # empty variants never pass, though an empty string has no comma
    assert no_comma.check("") and not follows(no_comma, ",", loose=True) and not follows(no_comma, "  ")
    assert len(variants("a\nb\nc")) == 8 and variants("*a*\nb\nc")[4:] == ["a\nb\nc", "b\nc", "a\nb", "b"]


def _record(key, ids, kwargs, lang, prompt=None):
    return {"key": key, "prompt": prompt or f"prompt {key}", "instruction_id_list": ids, "kwargs": kwargs,
            "lang": lang}


def test_scores_by_hand(tmp_path):
    inputs, outputs = tmp_path / "input_data.jsonl", tmp_path / "responses.jsonl"
    rows = [_record(1, ["punctuation:no_comma", "startend:end_checker"], [{}, {"end_phrase": "Bye."}], "en"),
            _record(2, ["keywords:existence", "punctuation:no_comma"], [{"keywords": ["饺子"]}, {}], "zh"),
            _record(3, ["detectable_format:title"], [{}], "zh")]
    inputs.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    answers = {"prompt 1": "Sure, here:\nHello world. **Bye.**",     # strict F F, loose T T
               "prompt 2": "春节吃饺子，很开心。",                        # strict T F, loose T F
               "prompt 3": "<<月光>>\n床前明月光"}                        # T, T
    outputs.write_text("".join(json.dumps({"prompt": p, "response": r}, ensure_ascii=False) + "\n"
                               for p, r in answers.items()), encoding="utf-8")
    records = read_inputs(inputs)
    summary, results = evaluate(records, read_responses(outputs))
    assert [(r.strict, r.loose) for r in results] == [((False, False), (True, True)), ((True, False), (True, False)),
                                                      ((True,), (True,))]
    assert summary["prompts"] == 3 and summary["instructions"] == 5
    assert summary["strict"] == pytest.approx({"prompt_level": 1 / 3, "instruction_level": 2 / 5})
    assert summary["loose"] == pytest.approx({"prompt_level": 2 / 3, "instruction_level": 4 / 5})
    assert summary["by_instruction"]["punctuation:no_comma"] == {"n": 2, "strict": 0.0, "loose": 0.5}
    assert summary["by_instruction"]["startend:end_checker"] == {"n": 1, "strict": 0.0, "loose": 1.0}
    assert summary["by_family"]["keywords"] == {"n": 1, "strict": 1.0, "loose": 1.0}
    en, zh = summary["by_lang"]["en"], summary["by_lang"]["zh"]
    assert (en["prompts"], en["instructions"], zh["prompts"], zh["instructions"]) == (1, 2, 2, 3)
    assert en["strict"] == {"prompt_level": 0.0, "instruction_level": 0.0}
    assert en["loose"] == {"prompt_level": 1.0, "instruction_level": 1.0}
    assert zh["strict"] == zh["loose"] == pytest.approx({"prompt_level": 1 / 2, "instruction_level": 2 / 3})
    assert reward(records[1], answers["prompt 2"]) == 0.5 and reward(records[0], answers["prompt 1"], loose=True) == 1
    with pytest.raises(IFEvalError, match=r"1 prompt\(s\) have no response, keys \[3\]"):
        evaluate(records, {p: r for p, r in answers.items() if p != "prompt 3"})
    summary, results = evaluate(records, {}, missing="fail")
    assert summary["loose"]["instruction_level"] == 0.0


def _load(tmp_path, *lines):
    path = tmp_path / "input_data.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_ifeval_layout_with_null_kwargs(tmp_path):
    """IFEval's published rows list every kwarg of every type, with null for the absent ones."""
    nulls = {"num_highlights": None, "relation": None, "num_words": None, "keywords": None, "language": None}
    row = {"key": 1000, "prompt": "Write a 300+ word summary. Do not use any commas.",
           "instruction_id_list": ["punctuation:no_comma", "length_constraints:number_words"],
           "kwargs": [dict(nulls), nulls | {"relation": "at least", "num_words": 300}]}
    (record,) = read_inputs(_load(tmp_path, json.dumps(row)))
    assert record.checkers[1].kwargs() == {"num_words": 300, "relation": "at least"}
    assert parse_record(record.to_json()) == record
    assert [r.lang for r in evaluate([record], {row["prompt"]: "Short, answer."})[1]] == ["en"]    # detected


@pytest.mark.parametrize("line,error", [
    ('{"key": 1, "prompt": "p", "instruction_id_list": ["keywords:nope"], "kwargs": [{}]}',
     r"input_data.jsonl:2: unknown instruction id 'keywords:nope'"),
    ('{"key": 1, "prompt": "p", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}, {}]}',
     r":2: 1 instruction ids but 2 kwargs dicts"),
    ('{"key": 1, "prompt": "p", "instruction_id_list": ["detectable_format:title"]}',
     r":2: missing field\(s\) \['kwargs'\]"),
    ('{"key": 1, "prompt": "p", "instruction_id_list": ["length_constraints:number_words"], '
     '"kwargs": [{"num_words": 5, "relation": "at most"}]}',
     r":2: length_constraints:number_words: kwarg 'relation'"),
    ('{"key": 1, "prompt": "p", "instruction_id_list": ["length_constraints:number_words"], '
     '"kwargs": [{"num_words": 5}]}', r":2: .*missing \['relation'\]"),
    ('{"key": 1, "prompt": "p", "instruction_id_list": ["detectable_format:title"], "kwargs": [{"num_words": 5}]}',
     r":2: .*unknown \['num_words'\]"),
    ('{"key": 1, "prompt": "p", "instruction_id_list": ["keywords:letter_frequency"], '
     '"kwargs": [{"letter": "ab", "let_frequency": 2, "let_relation": "at least"}]}', r"must be one character"),
    ('{"key": 1, "prompt": "p", "instruction_id_list": "punctuation:no_comma", "kwargs": [{}]}', r"list of strings"),
    ('{"key": 1, "prompt": "p", "instruction_id_list": [', r"input_data.jsonl:2: not a JSON line"),
    ('["not", "an", "object"]', r":2: expected a JSON object"),
    ('{"key": 0, "prompt": "again", "instruction_id_list": [], "kwargs": []}', r":2: key 0 already used at .*:1"),
])
def test_input_errors_name_file_and_line(tmp_path, line, error):
    first = '{"key": 0, "prompt": "fine", "instruction_id_list": [], "kwargs": []}'
    with pytest.raises(IFEvalError, match=error):
        read_inputs(_load(tmp_path, first, line))


def test_response_errors(tmp_path):
    path = tmp_path / "responses.jsonl"
    path.write_text('{"prompt": "a", "response": "x"}\n\n{"prompt": "a", "response": "y"}\n')
    with pytest.raises(IFEvalError, match=r"responses.jsonl:3: prompt already answered differently at .*:1"):
        read_responses(path)
    path.write_text('{"prompt": "a", "response": null}\n')
    with pytest.raises(IFEvalError, match=r"responses.jsonl:1: needs string fields"):
        read_responses(path)


def test_seeded_constraints_in_both_languages():
    for iid in INSTRUCTIONS:
        for lang in ("en", "zh"):
            checker, sentence = make(iid, lang, seed=7, prompt="写一首诗。")
            assert (checker, sentence) == make(iid, lang, seed=7, prompt="写一首诗。")    # deterministic
            assert build(iid, checker.kwargs()) == checker and sentence == checker.describe(lang)
            assert any("\u4e00" <= c <= "\u9fff" for c in sentence) == (lang == "zh")
    drawn = {json.dumps(make("keywords:frequency", "en", seed=s)[0].kwargs()) for s in range(10)}
    assert len(drawn) > 1
    assert make("keywords:existence", "zh", keywords=["饺子"])[1] == "回答中必须包含关键词“饺子”。"
    with pytest.raises(IFEvalError, match="needs the prompt"):
        make("combination:repeat_prompt")
    with pytest.raises(IFEvalError, match="unknown instruction id"):
        make("keywords:nope")


def test_add_constraints_makes_a_checkable_record():
    record = add_constraints("写一篇关于长城的短文。", ["punctuation:no_comma", "detectable_format:title"], lang="zh",
                             seed=3, key="evo-1")
    assert record.prompt.startswith("写一篇关于长城的短文。\n\n") and "逗号" in record.prompt
    assert parse_record(record.to_json()) == record and record.lang == "zh"
    assert reward(record, "<<长城>>\n长城是中国古代的军事防御工程。") == 1.0
    assert reward(record, "长城很长，也很古老。") == 0.0
    assert complies(record, "<<长城>>\n长城很长。") and not complies(record, "<<长城>>\n长城很长，也很古老。")
    assert conflicting(["change_case:english_capital", "change_case:english_lowercase", "keywords:existence"]) == \
        [("change_case:english_capital", "change_case:english_lowercase")]
    with pytest.raises(IFEvalError, match="cannot share a prompt"):
        add_constraints("p", ["detectable_format:json_format", "detectable_format:title"])


def test_default_prompts():
    records = default_prompts()
    langs = [r.lang for r in records]
    assert langs.count("en") == 12 and langs.count("zh") == 12
    assert {i for r in records for i in r.instruction_id_list} == set(INSTRUCTIONS)
    assert len({r.key for r in records}) == len(records)
    assert all(detect(r.prompt)[0] == r.lang for r in records)
