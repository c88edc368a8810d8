"""Outside inputs in version ids: environment variables that select behaviour, the versions of the
libraries that shape output and model files by content (not by path) enter the id and the lineage
of every stage whose code uses them."""
import shutil

from zhinao.flows.registry import targets
from zhinao.flows.stage import execute_stage
from zhinao.tasks.declare import stage_modules
from zhinao.tasks.langid.model import lid176_path
from zhinao.tasks.home import open_store
from zhinao.tasks.store import external
from zhinao.tasks.store.closure import closure
from tests.stages import NUMBERS, NumParams

STAGES = {name: t.flow.stage for name, t in targets().items() if t.kind == "stage"}


def _key(stage_name: str) -> list[dict]:
    sources = external.external_sources(closure(stage_modules(STAGES[stage_name])))
    return [{k: v for k, v in s.items() if k != "uri"} for s in sources]


def test_an_environment_variable_enters_the_id_and_the_lineage(monkeypatch):
    monkeypatch.delenv("ZHINAO_TEST_KNOB", raising=False)
    plain = execute_stage(NUMBERS, NumParams(use_ray=False))
    monkeypatch.setenv("ZHINAO_TEST_KNOB", "on")
    knob = execute_stage(NUMBERS, NumParams(use_ray=False))
    assert knob.version != plain.version and not knob.cache_hit
    assert {"name": "env/ZHINAO_TEST_KNOB", "fingerprint": "on"} in open_store().resolve(knob.ref).sources


def test_the_kernel_choice_and_library_versions_enter_training_ids(monkeypatch):
    monkeypatch.delenv("ZHINAO_KERNELS", raising=False)
    base = _key("pretrain-stage1")
    monkeypatch.setenv("ZHINAO_KERNELS", "reference")
    assert _key("pretrain-stage1") != base
    monkeypatch.delenv("ZHINAO_KERNELS")
    real = external.library_version
    monkeypatch.setattr(external, "library_version", lambda d: "99.0" if d == "torch" else real(d))
    changed = [s for s in _key("pretrain-stage1") if s not in base]
    assert changed == [{"name": "library/torch", "fingerprint": "99.0"}]


def test_the_language_model_counts_by_content_not_by_path(monkeypatch, tmp_path):
    base = _key("langid")
    copy = tmp_path / "lid.176.ftz"
    shutil.copy(lid176_path(), copy)
    monkeypatch.setenv("ZHINAO_LID_MODEL", str(copy))
    assert _key("langid") == base                          # the same weights elsewhere
    data = bytearray(copy.read_bytes())
    data[10] ^= 0xFF
    copy.write_bytes(bytes(data))
    assert _key("langid") != base                          # other weights, same name
    assert _key("rewrite") != base and any(s["name"] == "file/lid.176.ftz" for s in _key("rewrite"))


def test_every_stage_declares_what_its_libraries_are():
    for name in ("extract", "langid", "quality", "embed", "topic-model", "tokenizer", "pretrain-stage1"):
        assert any(s["name"].startswith("library/") for s in _key(name)), name


def _fake_endpoint(answer: str, created: int):
    """An OpenAI-compatible server whose 'weights' are the answer it gives."""
    import http.server
    import json
    import threading

    class Api(http.server.BaseHTTPRequestHandler):
        def _send(self, body):
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._send({"data": [{"id": "served-llm", "object": "model", "created": created, "root": "/m"}]})

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self._send({"choices": [{"message": {"content": answer}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 9, "completion_tokens": 5}})

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1"


def test_a_served_model_is_known_by_its_answers_not_its_name():
    import pytest

    from zhinao.tasks.generate.served import served_model_source

    prints = []
    for answer, created in (("2, 3, 5, 7 ... Canberra", 1), ("2, 3, 5, 7 ... Canberra", 2), ("Sydney", 1)):
        server, url = _fake_endpoint(answer, created)
        try:
            prints.append(served_model_source(url, "served-llm")["fingerprint"])
            if len(prints) == 1:
                with pytest.raises(ValueError, match="does not serve 'other'"):
                    served_model_source(url, "other")
        finally:
            server.shutdown()
    assert prints[0] == prints[1] != prints[2]     # a restart is the same model; other weights are not
