"""The Prefect API a command gets: a server slower than Prefect's own wait is waited for, one that
never answers or dies fails naming the setting or its log, and the errors a new user meets (a server
that is down, a port taken, an unwritable home) name the problem and the fix."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zhinao.app.api_server import TIMEOUT_ENV, ServerError, own_server, run_api, start_timeout
from zhinao.model.launch import free_port

REPO = Path(__file__).resolve().parents[1]

# a health endpoint that answers only after a delay, as a first start on a busy machine does
SLOW_SERVER = """
import http.server, sys, time
time.sleep(float(sys.argv[2]))

class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.path == "/api/health"
        self.send_response(200 if ok else 404)
        self.end_headers()
        if ok:
            self.wfile.write(b"true")

    def log_message(self, *args):
        pass

http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Health).serve_forever()
"""


def _slow(tmp_path: Path, port: int, delay: float) -> list[str]:
    script = tmp_path / "slow_server.py"
    script.write_text(SLOW_SERVER)
    return [sys.executable, str(script), str(port), str(delay)]


def _prefect_default_wait() -> float:
    from prefect.settings.models.server.ephemeral import ServerEphemeralSettings

    return float(ServerEphemeralSettings.model_fields["startup_timeout_seconds"].default)


def test_a_server_slower_than_prefects_own_wait_is_waited_for(tmp_path):
    delay = _prefect_default_wait() + 2      # Prefect's temporary server would have given up
    port = free_port()
    start = time.monotonic()
    with own_server(tmp_path, command=_slow(tmp_path, port, delay), port=port, timeout=delay + 120) as server:
        server.ready()
        assert time.monotonic() - start >= delay
        proc = server.proc
    assert proc.poll() is not None                          # stopped with the block


def test_a_server_that_never_answers_fails_naming_the_setting(tmp_path):
    port = free_port()
    with pytest.raises(ServerError, match=f"within 2 s .*{TIMEOUT_ENV}"):
        with own_server(tmp_path, command=_slow(tmp_path, port, 3600), port=port, timeout=2) as server:
            server.ready()
    assert server.proc.poll() is not None


def test_a_server_that_dies_shows_its_log(tmp_path):
    crash = [sys.executable, "-c", "import sys; print('address already in use'); sys.exit(1)"]
    with pytest.raises(ServerError, match="(?s)exited with status 1.*address already in use"):
        with own_server(tmp_path, command=crash, timeout=60) as server:
            server.ready()


def test_bad_timeout_setting_is_named(monkeypatch):
    monkeypatch.setenv(TIMEOUT_ENV, "soon")
    with pytest.raises(ServerError, match=TIMEOUT_ENV):
        start_timeout()
    monkeypatch.setenv(TIMEOUT_ENV, "30")
    assert start_timeout() == 30


def test_an_api_url_that_does_not_answer_is_named(monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", f"http://127.0.0.1:{free_port()}/api")
    with pytest.raises(ServerError, match="PREFECT_API_URL=.*does not answer.*zhinao server"):
        with run_api():
            pass


def _cli(*args, env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")} | env_extra
    return subprocess.run([sys.executable, "-m", "zhinao.app.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)


def test_server_on_a_port_another_program_holds_is_refused(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = _cli("server", "--port", str(port), env_extra={"ZHINAO_HOME": str(tmp_path / "home")})
    assert r.returncode == 2 and "in use by another program" in r.stdout and "--port" in r.stdout


def test_an_unwritable_home_is_named(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    r = _cli("datasets", env_extra={"ZHINAO_HOME": str(blocker / "home")})
    assert r.returncode == 2 and "ZHINAO_HOME" in r.stdout and "Traceback" not in r.stderr


def test_a_port_whose_last_connections_sit_in_time_wait_is_free():
    from zhinao.app.cli import require_free_port

    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        conn, _ = server.accept()
        conn.close()                     # the side that closes first keeps the port in TIME-WAIT
        client.close()
    time.sleep(0.2)
    states = subprocess.run(["ss", "-tan", f"sport = :{port}"], capture_output=True, text=True).stdout
    assert "TIME-WAIT" in states, states
    require_free_port("127.0.0.1", port, "the server", "zhinao server")     # no ServerError


def test_only_this_homes_live_server_is_used(tmp_path, monkeypatch):
    """A state file whose `zhinao server` is gone announces nothing (and is removed), and with no
    server of its own home a run starts its own: it never reports into whatever answers on 4200."""
    import json

    from zhinao.app import api_server, prefect_env

    home = tmp_path / "prefect"
    home.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    state = home / prefect_env.STATE_FILE
    state.write_text(json.dumps({"api_url": "http://127.0.0.1:4200/api", "pid": dead.pid}))
    assert prefect_env.home_server_url(home) is None and not state.exists()
    state.write_text(json.dumps({"api_url": "http://127.0.0.1:4321/api", "pid": os.getpid()}))
    assert prefect_env.home_server_url(home) == "http://127.0.0.1:4321/api"
    state.unlink()

    monkeypatch.setenv("PREFECT_HOME", str(home))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setattr(api_server, "healthy", lambda url, timeout=1.0: True)    # something answers everywhere
    started = []

    class Own:
        url, ready = "http://127.0.0.1:5999/api", staticmethod(lambda: None)

    import contextlib

    @contextlib.contextmanager
    def own(home_dir):
        started.append(home_dir)
        yield Own()

    monkeypatch.setattr(api_server, "own_server", own)
    with run_api():
        assert os.environ["PREFECT_API_URL"] == Own.url
    assert len(started) == 1
