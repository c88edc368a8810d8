"""Log-likelihood tasks on a server's prompt logprobs (vLLM's /v1/completions extension): the same
scores and choices as in process. The server here is a small OpenAI-compatible fake that answers
as vLLM does, its log-probs computed by the plain transformers forward; the last test runs a real
`vllm serve` where the vLLM environment exists."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from zhinao.tasks.eval.backend import loglik_backend
from zhinao.tasks.eval.loglik import LoglikModel
from zhinao.tasks.eval.mc_data import read_benchmark
from zhinao.tasks.eval.multiple_choice import MCSetup, score_items
from zhinao.tasks.eval.served_loglik import ServedLoglik
from tests.eval_files import write_cmmlu

DOCS = ["The river rose after three days of rain, and the bridge was closed to traffic. " * 3,
        "长江流经十一个省级行政区，最后在上海注入东海。沿岸城市众多，航运十分繁忙。"]


class FakeVLLM(ThreadingHTTPServer):
    """/v1/models and /v1/completions with token-id prompts and `prompt_logprobs`, shaped as vLLM's."""

    def __init__(self, model, tok, name: str, max_model_len: int = 2048):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.model, self.tok, self.name, self.max_model_len = model, tok, name, max_model_len
        self.seen: list[dict] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def completion(self, body: dict) -> tuple[int, dict]:
        import torch

        ids = body.get("prompt")
        if body.get("model") != self.name or not isinstance(ids, list) or body.get("prompt_logprobs") is None:
            return 400, {"error": "expected token ids and prompt_logprobs for the served model"}
        if len(ids) + body.get("max_tokens", 16) > self.max_model_len:
            return 400, {"error": f"prompt of {len(ids)} tokens + max_tokens over max_model_len {self.max_model_len}"}
        with self.lock, torch.inference_mode():
            self.seen.append(body)
            lps = self.model(input_ids=torch.tensor([ids])).logits[0].float().log_softmax(-1)
        entries = [None]
        for pos in range(1, len(ids)):
            lp, t, top = lps[pos - 1], ids[pos], int(lps[pos - 1].argmax())
            entry = {str(t): {"logprob": float(lp[t]), "rank": int((lp > lp[t]).sum()) + 1,
                              "decoded_token": self.tok.decode([t])}}
            entry.setdefault(str(top), {"logprob": float(lp[top]), "rank": 1, "decoded_token": self.tok.decode([top])})
            entries.append(entry)
        nxt = int(lps[-1].argmax())
        return 200, {"id": "cmpl-fake", "object": "text_completion", "model": self.name,
                     "choices": [{"index": 0, "text": self.tok.decode([nxt]), "logprobs": None,
                                  "finish_reason": "length", "prompt_logprobs": entries}],
                     "usage": {"prompt_tokens": len(ids), "completion_tokens": 1, "total_tokens": len(ids) + 1}}


class _Handler(BaseHTTPRequestHandler):
    def _send(self, code: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        s = self.server
        if self.path == "/v1/models":
            self._send(200, {"object": "list", "data": [{"id": s.name, "object": "model",
                                                         "max_model_len": s.max_model_len}]})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self._send(*self.server.completion(body)) if self.path == "/v1/completions" else self._send(404, {})

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def in_process(smollm2):
    return LoglikModel(smollm2)


@pytest.fixture(scope="module")
def fake(in_process, smollm2):
    server = FakeVLLM(in_process.model, in_process.tok, str(smollm2))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_multiple_choice_on_prompt_logprobs_is_the_in_process_choice(in_process, fake, smollm2, tmp_path):
    bench = write_cmmlu(tmp_path, {"arith": (3, 1)}, seed=5)
    test, dev = read_benchmark(bench)["arith"], read_benchmark(bench, "dev")["arith"]
    served = ServedLoglik(fake.url, fake.name, smollm2, concurrency=4)
    fake.seen.clear()
    ours, theirs = (score_items(test, dev, MCSetup(shots=1), m) for m in (in_process, served))
    assert [r["pred"] for r in theirs] == [r["pred"] for r in ours]
    for a, b in zip(ours, theirs):
        assert b["logprobs"] == pytest.approx(a["logprobs"], abs=1e-3)
    assert len(fake.seen) == 3 * 4                                  # one prompt per choice, each sent once
    assert all(b["max_tokens"] == 1 and b["prompt_logprobs"] == 1 and isinstance(b["prompt"][0], int)
               for b in fake.seen)
    pairs = [(" 1 + 1 =", " 2"), (" 1 + 1 =", " 7"), ("", "Hello")]      # an empty context takes the prefix token
    assert [s.greedy for s in served.loglikelihood(pairs)] == [s.greedy for s in in_process.loglikelihood(pairs)]
    assert served.max_length == 2048 - 2                           # prompt = input + its last token, + 1 generated


def test_rolling_windows_on_prompt_logprobs_are_the_in_process_ones(in_process, fake, smollm2):
    served = ServedLoglik(fake.url, fake.name, smollm2)
    ids = [in_process.encode(d) for d in DOCS]
    assert len(ids[0]) > 32                                         # several windows
    ours = in_process.rolling_logprobs(ids, window=32)
    theirs = served.rolling_logprobs(ids, window=32)
    assert [len(x) for x in theirs] == [len(x) for x in ids]
    for a, b in zip(ours, theirs):
        assert b == pytest.approx(a, abs=1e-4)


def test_bad_servers_are_named(fake, smollm2):
    with pytest.raises(ValueError, match="does not serve 'other'"):
        ServedLoglik(fake.url, "other", smollm2)
    served = ServedLoglik(fake.url, fake.name, smollm2)
    fake.max_model_len = 8                                           # the server refuses long prompts
    try:
        with pytest.raises(ValueError, match="refused a prompt-logprobs request"):
            served.loglikelihood([("a fairly long context of several tokens", " end")])
    finally:
        fake.max_model_len = 2048


def test_loglik_backend_follows_the_generation_server():
    assert loglik_backend("auto", "transformers") == "transformers"
    assert loglik_backend("auto", "vllm") == "vllm"
    assert loglik_backend("auto", "openai") == "vllm"                  # an endpoint
    assert loglik_backend("transformers", "vllm") == "transformers"
    with pytest.raises(ValueError, match="generation backend resolved to transformers"):
        loglik_backend("vllm", "transformers")
    with pytest.raises(ValueError, match="unknown loglik_backend"):
        loglik_backend("tgi", "vllm")


def test_the_evaluate_stage_scores_on_its_endpoint(in_process, fake, smollm2):
    from zhinao.tasks.eval.stage import EVALUATE, EvalParams
    from zhinao.flows.stage import execute_stage
    from zhinao.tasks.eval.run import run_mc
    from zhinao.tasks.home import open_store

    store = open_store()
    p = EvalParams(model=str(smollm2), endpoint=fake.url, tasks=["mc", "perplexity"], limit=1, mc_items=1,
                   perplexity_per_topic=1, perplexity_max_chars=600, use_ray=False)
    fake.seen.clear()
    m = store.resolve(execute_stage(EVALUATE, p, store=store).ref)
    assert m.stats["tables"]["backends"] == [{"generation": "openai", "loglik": "vllm"}]
    assert len(fake.seen) == 3 * 4 + 1                              # 3 subjects x 4 choices, 1 document
    rows = store.open_arrow(m).to_pylist()
    mc = sorted((r for r in rows if r["task"] == "mc"), key=lambda r: r["item"])
    ref = sorted(run_mc(p, in_process)[0], key=lambda r: r["item"])
    assert [r["prediction"] for r in mc] == [r["prediction"] for r in ref]
    for a, b in zip(mc, ref):
        assert json.loads(a["detail"])["logprobs"] == pytest.approx(json.loads(b["detail"])["logprobs"], abs=1e-3)


@pytest.mark.skipif(__import__("zhinao.tasks.generate.vllm_server", fromlist=["vllm_python"]).vllm_python() is None,
                    reason="no vLLM environment (deployments/local/setup-vllm.sh, or ZHINAO_VLLM_PYTHON)")
def test_a_real_vllm_server_picks_the_in_process_choice(in_process, smollm2, tmp_path):
    from types import SimpleNamespace

    from zhinao.tasks.generate.service import serving

    bench = write_cmmlu(tmp_path, {"arith": (3, 1)}, seed=5)
    test, dev = read_benchmark(bench)["arith"], read_benchmark(bench, "dev")["arith"]
    p = SimpleNamespace(backend="vllm", endpoint=None, api_key=None, batch_size=4, device="cpu", concurrency=8,
                        max_model_len=2048, tensor_parallel_size=1, gpu_memory_utilization=0.85, seed=0,
                        enforce_eager=True)
    with serving(p, str(smollm2), "smollm2") as spec:
        served = ServedLoglik(spec.url, spec.served_name, smollm2)
        theirs = score_items(test, dev, MCSetup(shots=1), served)
    ours = score_items(test, dev, MCSetup(shots=1), in_process)
    assert [r["pred"] for r in theirs] == [r["pred"] for r in ours]
    for a, b in zip(ours, theirs):          # vLLM on CPU may run bfloat16: close, not equal
        assert b["logprobs"] == pytest.approx(a["logprobs"], abs=0.5)
