"""GSM8K by generation: the JSONL layout, few-shot prompts, and the same exact-match verdicts as
lm-evaluation-harness's strict and flexible filters given the same generations."""
import json

import pytest

from zhinao.tasks.eval.gsm8k import accuracy, item_of, prompt, read_jsonl, verdicts

ROWS = [
    {"question": "Tom has 3 apples and buys 4 more. How many apples does he have?",
     "answer": "He has 3 + 4 = <<3+4=7>>7 apples.\n#### 7"},
    {"question": "A box holds 1,200 pens; 200 are sold. How many are left?",
     "answer": "1,200 - 200 = 1,000 pens are left.\n#### 1,000"},
    {"question": "Sara earns $12 an hour for 5 hours. How much does she earn?",
     "answer": "12 * 5 = 60\n#### 60"},
]

RESPONSES = [
    "3 + 4 = 7. #### 7", "The answer is 7.", "#### 7.", "He has 8 apples. #### 8", "no number here",
    "1,200 - 200 = 1,000\n#### 1,000", "#### 1000", "left: $1,000.", "#### -5", "It is 60 dollars, so $60.",
    "#### 60\nQuestion: next", "#### 6 0", "Total 12 then 5 so 60", "", "#### 7 and later #### 8",
]


def test_the_layout_and_the_synth_items(tmp_path):
    path = tmp_path / "test.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n\n")
    items = read_jsonl(path)
    assert [i.target for i in items] == ["7", "1,000", "60"]
    assert item_of({"problem": "2+2?", "answer": 4}, 0).solution == "#### 4"
    (tmp_path / "bad.jsonl").write_text('{"question": "q", "answer": "1"}\n{oops\n')
    with pytest.raises(ValueError, match=r"bad.jsonl, line 2: not JSON"):
        read_jsonl(tmp_path / "bad.jsonl")
    text = prompt(items[2], items[:2])
    assert text.startswith("Question: Tom has") and text.count("Question:") == 3 and text.endswith("Answer:")
    assert "#### 7\n\nQuestion: A box" in text


def _lm_eval_verdicts(responses, targets):
    pytest.importorskip("lm_eval", reason="lm-eval is installed by the dev extra")
    from lm_eval.api.metrics import exact_match_hf_evaluate
    from lm_eval.filters.extraction import RegexFilter

    strict = RegexFilter(r"#### (\-?[0-9\.\,]+)", 0).apply([[r] for r in responses], [{}] * len(responses))
    flexible = RegexFilter(r"(-?[$0-9.,]{2,})|(-?[0-9]+)", -1).apply([[r] for r in responses], [{}] * len(responses))
    ignore = [",", "\\$", "(?s).*#### ", "\\.$"]

    def match(pred, ref):
        return bool(exact_match_hf_evaluate([pred], [ref], regexes_to_ignore=ignore, ignore_case=True)["exact_match"])

    return [(match(s[0], t), match(f[0], t)) for s, f, t in zip(strict, flexible, targets)]


def test_the_same_verdicts_as_lm_evaluation_harness():
    items = [item_of(r, i) for i, r in enumerate(ROWS)]
    pairs = [(items[k % 3], resp) for k, resp in enumerate(RESPONSES) for _ in range(1)]
    ours = [verdicts(item, resp) for item, resp in pairs]
    # lm-eval's references are the whole worked answer; its `(?s).*#### ` strips them to N
    theirs = _lm_eval_verdicts([resp for _, resp in pairs], [ROWS[it.index]["answer"] for it, _ in pairs])
    assert [(v["strict_match"], v["flexible_match"]) for v in ours] == theirs
    assert any(s for s, _ in theirs) and any(not s for s, _ in theirs)      # both verdicts occur


def test_real_generations_get_the_same_verdicts(smollm2):
    from zhinao.tasks.generate.api import Request
    from zhinao.tasks.generate.hf import TransformersGenerator

    items = [item_of(r, i) for i, r in enumerate(ROWS)]
    gen = TransformersGenerator(str(smollm2), batch_size=3)
    out = gen.generate([Request.chat(prompt(it, [x for x in items if x is not it][:1]), max_tokens=48,
                                     temperature=0.0, stop=("Question:",)) for it in items])
    responses = [c.text for c in out]
    ours = [verdicts(it, r) for it, r in zip(items, responses)]
    theirs = _lm_eval_verdicts(responses, [r["answer"] for r in ROWS])
    assert [(v["strict_match"], v["flexible_match"]) for v in ours] == theirs
    acc = accuracy(ours)
    assert acc["items"] == 3 and acc["flexible_match"] == sum(t[1] for t in theirs) / 3
