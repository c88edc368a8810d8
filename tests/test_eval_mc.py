"""Multiple choice by log-likelihood: the public file layouts, batch-size independence, and the
same choice as lm-evaluation-harness on every item given the same files."""
import csv
import os

import pytest

from zhinao.tasks.eval.loglik import LoglikModel
from zhinao.tasks.eval.mc_data import read_benchmark
from zhinao.tasks.eval.multiple_choice import MCSetup, accuracy, context, score_items
from tests.eval_files import write_cmmlu, write_mmlu


def test_the_three_layouts_read_to_the_same_items(tmp_path):
    cm = read_benchmark(write_cmmlu(tmp_path / "cmmlu", {"arith": (5, 2)}))
    mm = read_benchmark(write_mmlu(tmp_path / "mmlu", "arith", 5), "test")
    ce = tmp_path / "ceval" / "test"
    ce.mkdir(parents=True)
    with open(ce / "arith_test.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "question", "A", "B", "C", "D", "answer", "explanation"])
        for it in cm["arith"]:
            w.writerow([it.index, it.question, *it.choices, "ABCD"[it.answer], ""])
    assert read_benchmark(tmp_path / "ceval")["arith"] == cm["arith"] == mm["arith"]
    assert len(cm["arith"]) == 5 and all(0 <= it.answer < 4 for it in cm["arith"])


def test_bad_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="CMMLU, C-Eval or MMLU layout"):
        read_benchmark(tmp_path)
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "x.csv").write_text(",Question,A,B,C,D,Answer\n0,q,a,b,c,d,E\n")
    with pytest.raises(ValueError, match=r"x.csv, line 2: answer 'E'"):
        read_benchmark(tmp_path)


def test_few_shot_context_is_header_shots_then_question(tmp_path):
    data = read_benchmark(write_cmmlu(tmp_path, {"high_school_arith": (1, 2)}))
    dev = read_benchmark(tmp_path, "dev")["high_school_arith"]
    item = data["high_school_arith"][0]
    ctx = context(item, dev[:2], MCSetup(shots=2))
    assert ctx.startswith("The following are multiple choice questions (with answers) about high school arith.\n\n")
    assert ctx.count("Answer:") == 3 and ctx.endswith(f"D. {item.choices[3]}\nAnswer:")
    assert f"Answer: {'ABCD'[dev[0].answer]}\n\n" in ctx


@pytest.fixture(scope="module")
def scorer(smollm2):
    return LoglikModel(smollm2)


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return write_cmmlu(tmp_path_factory.mktemp("cmmlu"), {"arith": (4, 1), "more_arith": (4, 1)}, seed=3)


def _ours(scorer, bench, batch_size):
    test, dev = read_benchmark(bench), read_benchmark(bench, "dev")
    return [r for s in test for r in score_items(test[s], dev[s], MCSetup(shots=1), scorer, batch_size)]


def test_scores_do_not_depend_on_the_batch_size(scorer, bench):
    one, many = _ours(scorer, bench, 1), _ours(scorer, bench, 5)
    assert [r["pred"] for r in one] == [r["pred"] for r in many]
    for a, b in zip(one, many):
        assert a["logprobs"] == pytest.approx(b["logprobs"], abs=1e-4)
    acc = accuracy(one)
    assert acc["overall"]["items"] == 8 and set(acc["subjects"]) == {"arith", "more_arith"}
    assert acc["overall"]["acc"] == sum(r["correct"] for r in one) / 8


def _lm_eval_yaml(folder, bench, subject):
    (folder / f"zh_mc_{subject}.yaml").write_text(f"""task: zh_mc_{subject}
dataset_path: csv
dataset_kwargs:
  data_files:
    test: {bench / 'test' / f'{subject}.csv'}
    dev: {bench / 'dev' / f'{subject}.csv'}
test_split: test
fewshot_split: dev
fewshot_config:
  sampler: first_n
output_type: multiple_choice
description: "The following are multiple choice questions (with answers) about {subject.replace('_', ' ')}.\\n\\n"
doc_to_text: "{{{{Question.strip()}}}}\\nA. {{{{A}}}}\\nB. {{{{B}}}}\\nC. {{{{C}}}}\\nD. {{{{D}}}}\\nAnswer:"
doc_to_choice: ["A", "B", "C", "D"]
doc_to_target: "{{{{['A', 'B', 'C', 'D'].index(Answer)}}}}"
metric_list:
  - metric: acc
""")


def test_the_same_choice_as_lm_evaluation_harness_on_every_item(scorer, bench, smollm2, tmp_path, monkeypatch):
    lm_eval = pytest.importorskip("lm_eval", reason="lm-eval is installed by the dev extra")
    from lm_eval.tasks import TaskManager

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-datasets"))
    for subject in ("arith", "more_arith"):
        _lm_eval_yaml(tmp_path, bench, subject)
    out = lm_eval.simple_evaluate(model="hf", model_args=f"pretrained={smollm2},dtype=float32",
                                  tasks=["zh_mc_arith", "zh_mc_more_arith"], num_fewshot=1, batch_size=3,
                                  device="cpu", log_samples=True, task_manager=TaskManager(include_path=str(tmp_path)))
    ours = {(r["subject"], r["index"]): r for r in _ours(scorer, bench, 4)}
    compared = 0
    for subject in ("arith", "more_arith"):
        for s in out["samples"][f"zh_mc_{subject}"]:
            theirs = [float(x[0]) for x in s["filtered_resps"]]
            mine = ours[(subject, s["doc_id"])]
            assert mine["logprobs"] == pytest.approx(theirs, abs=2e-3)
            assert mine["pred"] == "ABCD"[max(range(4), key=lambda i: (theirs[i], -i))]
            compared += 1
    assert compared == 8
