"""The generator interface and its two real backends, output checks and strict parsers."""
import socket
from types import SimpleNamespace

import pytest

from zhinao.tasks.generate.api import Completion, Request
from zhinao.tasks.generate.checks import output_problem, trim_truncated
from zhinao.tasks.generate.judge import check_math, parse_scores
from zhinao.tasks.generate.models import ModelNotFound, resolve_generator_model
from zhinao.tasks.generate.neardup import near_duplicates
from zhinao.tasks.generate.openai_client import EndpointUnavailable, OpenAIGenerator
from zhinao.tasks.generate.sandbox import run_python
from zhinao.tasks.generate.service import choose_backend, get_generator, serving
from zhinao.tasks.generate.synth import parse_answer, parse_item_text

PROMPTS = ["Name three colours of the rainbow.", "What is the capital of France? Answer in one word."]


def _params(**kw):
    base = dict(backend="auto", endpoint=None, api_key=None, batch_size=4, device="cpu", concurrency=8,
                max_model_len=2048, tensor_parallel_size=1, gpu_memory_utilization=0.85, seed=0, enforce_eager=True)
    return SimpleNamespace(**(base | kw))


def _requests() -> list[Request]:
    """What a backend guarantees, whatever the model writes: a stop string ends the answer before it,
    the token limit is honoured (and reported as "length"), greedy decoding repeats itself."""
    return [Request.chat(PROMPTS[0], max_tokens=64, temperature=0.0, stop=(" ",)),
            Request.chat(PROMPTS[1], max_tokens=64, temperature=0.0),
            Request.chat("Write a long story about a dragon.", max_tokens=3, temperature=0.0)]


def _check(out: list[Completion], requests: list[Request]) -> None:
    assert len(out) == len(requests)
    for c, r in zip(out, requests):
        assert c.prompt_tokens > 5 and 0 < c.completion_tokens <= r.sampling.max_tokens and c.error is None
        if c.finish_reason == "length":
            assert c.completion_tokens == r.sampling.max_tokens
        else:
            assert c.finish_reason == "stop"
    stopped, _, cut = out
    assert stopped.finish_reason == "stop" and stopped.text.strip() and " " not in stopped.text.strip()
    assert cut.finish_reason == "length" and cut.completion_tokens == 3


def test_default_model_converts_once_to_a_safetensors_folder(smollm2):
    assert (smollm2 / "model.safetensors").exists() and (smollm2 / "config.json").exists()
    assert (smollm2 / "chat_template.jinja").exists() or "chat_template" in (smollm2 / "tokenizer_config.json").read_text()
    assert resolve_generator_model("smollm2-135m-instruct") == smollm2


def test_a_model_version_in_the_store_can_be_the_generator(smollm2, tmp_path):
    from zhinao.tasks.home import open_store

    store = open_store()
    m = store.import_model("generator", smollm2, stage="test")
    path = resolve_generator_model("generator", store)
    assert m.kind == "model" and (path / "config.json").exists()
    assert resolve_generator_model(f"generator@{m.version[:6]}", store) == path
    assert store.import_model("generator", smollm2).version == m.version      # same files: same version
    with pytest.raises(ModelNotFound, match="model version"):
        resolve_generator_model("no-such-model", store)


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFound, match="neither"):
        resolve_generator_model(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFound, match="no config.json"):
        resolve_generator_model(str(tmp_path / "empty"))


def test_transformers_backend_generates_batches(smollm2):
    with serving(_params(backend="transformers"), str(smollm2), "smollm2") as spec:
        gen = get_generator(spec)
        out = gen.generate(_requests())
    _check(out, _requests())
    again = gen.generate(_requests())                           # greedy: the same text again
    assert [c.text for c in again] == [c.text for c in out]
    assert gen is get_generator(spec)                           # loaded once per process


def test_vllm_backend_runs_a_real_server_on_cpu(smollm2):
    with serving(_params(backend="vllm"), str(smollm2), "smollm2") as spec:
        assert spec.backend == "openai" and spec.url.startswith("http://127.0.0.1:")
        port = int(spec.url.split(":")[2].split("/")[0])
        gen = OpenAIGenerator(spec.url, spec.served_name, send_seeds=spec.send_seeds)
        out, again = gen.generate(_requests()), gen.generate(_requests())
    _check(out, _requests())
    assert [c.text for c in again] == [c.text for c in out]
    with pytest.raises(OSError):                               # stopped with the stage
        socket.create_connection(("127.0.0.1", port), timeout=1)


def test_unreachable_endpoint_raises_rather_than_dropping_everything():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gen = OpenAIGenerator(f"http://127.0.0.1:{port}/v1", "m", attempts=1)
    with pytest.raises(EndpointUnavailable):
        gen.generate([Request.chat("hi")])


def test_backend_choice():
    assert choose_backend("auto", "http://x/v1") == "openai"
    assert choose_backend("auto", None) == "transformers"      # CPU: in process
    assert choose_backend("vllm", None) == "vllm"
    with pytest.raises(ValueError, match="endpoint"):
        choose_backend("openai", None)
    with pytest.raises(ValueError, match="unknown"):
        choose_backend("tgi", None)


@pytest.mark.parametrize("completion,lang,reason", [
    (Completion("", "stop"), "en", "empty"),
    (Completion("   \n", "stop"), "en", "empty"),
    (Completion("A fine start that never", "length"), "en", "truncated"),
    (Completion("", "error", error="boom"), "en", "generation_error"),
    (Completion("\n".join(["buy now cheap pills"] * 12), "stop"), "en", "repetitive"),
    (Completion("今天天气很好，我们去公园散步，然后在湖边吃午饭，下午回家读书。", "stop"), "en", "wrong_language"),
    (Completion("The bridge opened in 1932 and carries eight lanes of traffic across the harbour.", "stop"), "en", None),
    (Completion("这座桥于一九三二年通车，承载八条车道，横跨海港，是城市的重要交通枢纽。", "stop"), "zh-Hans", None),
])
def test_bad_output_is_named(completion, lang, reason):
    assert output_problem(completion, lang) == reason


def test_truncated_rewrites_are_trimmed_to_complete_text():
    cut = trim_truncated(Completion("Title\n\nFirst part ends here. Then more.\n\nA paragraph cut in the mi", "length"))
    assert (cut.text, cut.finish_reason) == ("Title\n\nFirst part ends here. Then more.", "stop")
    assert trim_truncated(Completion("One sentence. And then cut", "length")).text == "One sentence."
    nothing = trim_truncated(Completion("no sentence end at all", "length"))
    assert output_problem(nothing, "en") == "truncated"
    whole = Completion("Done.", "stop")
    assert trim_truncated(whole) is whole


def test_judge_scores_parse_strictly():
    good = '{"correctness": 7, "difficulty": 3, "clarity": 8, "usefulness": 6}'
    assert parse_scores(good) == {"correctness": 7, "difficulty": 3, "clarity": 8, "usefulness": 6}
    assert parse_scores(good + "\n\nThe answer is fine.") is not None           # prose after the object
    for bad in ['{"correctness": 7, "difficulty": 3, "usefulness": 6}',          # a dimension missing
                '{"correctness": 7, "difficulty": 3, "clarity": 8, "usefulness": 6, "x": 1}',
                '{"correctness": 7.5, "difficulty": 3, "clarity": 8, "usefulness": 6}',
                '{"correctness": 11, "difficulty": 3, "clarity": 8, "usefulness": 6}',
                '{"correctness": true, "difficulty": 3, "clarity": 8, "usefulness": 6}',
                'Scores: {"correctness": 7, "difficulty": 3, "clarity": 8, "usefulness": 6}',
                '{"correctness": 7, "difficulty": 3, "clarity": 8, "usefulness": ', '']:
        assert parse_scores(bad) is None, bad


def test_synthetic_item_formats():
    math, reason = parse_item_text("math", "Problem: Ann has 3 boxes of 12 eggs and breaks 5. How many are left?\n"
                                           "Solution: 3*12 = 36, 36 - 5 = 31.\nFinal answer: 31 eggs")
    assert reason is None and math["answer"] == "31" and "36 - 5" in math["response"]
    assert parse_item_text("math", "Problem: something\nSolution: steps\nFinal answer: none")[1] == "no_final_answer"
    assert parse_item_text("math", "Just some text")[1] == "unparseable"
    code, reason = parse_item_text("code", "Task: add two numbers\n```python\ndef add(a, b):\n    return a + b\n```\n"
                                           "Explanation: returns the sum of its two arguments.")
    assert reason is None and "def add" in code["response"]
    assert parse_item_text("code", "Task: x\n```python\ndef f(:\n```\nExplanation: a broken function here.")[1] \
        == "code_syntax_error"
    inst, reason = parse_item_text("instruction", "Instruction: Plan a day in Rome.\nResponse: Start at the Colosseum.")
    assert reason is None and inst["prompt"] == "Plan a day in Rome."
    assert parse_answer("1,200.50 dollars") == "1200.5" and parse_answer("3/4") == "0.75" and parse_answer("x") is None


def test_math_answers_are_checked_by_resolving_and_by_running_a_program():
    row = {"answer": "31"}
    agree = check_math(row, Completion("36 - 5 = 31\nFinal answer: 31", "stop"), Completion("```python\nprint(0)", "stop"))
    assert agree == "agree"
    program = Completion("```python\nprint(3 * 12 - 5)\n```", "stop")
    assert check_math(row, Completion("no idea", "stop"), program) == "agree"
    assert check_math(row, Completion("Final answer: 30", "stop"), Completion("```python\nprint(29)\n```", "stop")) \
        == "disagree"
    assert check_math(row, Completion("", "error"), Completion("```python\nraise SystemExit(1)\n```", "stop")) \
        == "unchecked"


def test_sandbox_contains_runaway_code():
    assert run_python("print(sum(range(10)))").stdout.strip() == "45"
    assert run_python("while True: pass", timeout_s=1).error == "timeout"
    assert not run_python("x = bytearray(4 << 30)", mem_mb=256).ok
    assert not run_python("import os; os.environ['HOME']").ok           # empty environment


def test_near_duplicate_items():
    base = "Ann has three boxes of twelve eggs each and she breaks five of them on the way home how many are left"
    texts = [base, base.replace("five", "six"), "Write a function that reverses a string in Python and explain it",
             base]
    dups = near_duplicates(texts, threshold=0.7)
    assert dups == {1: 0, 3: 0}
