"""A local `vllm serve` (OpenAI-compatible) that a stage starts, health-checks and stops.

vLLM runs from its own environment (.venv-vllm, made by deployments/local/setup-vllm.sh, or
ZHINAO_VLLM_PYTHON): its pins clash with Prefect's, so the pipeline talks to it over HTTP on
127.0.0.1 and never imports it.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ..settings import get_settings
from .models import models_dir

log = logging.getLogger("zhinao.generate")
REPO = Path(__file__).resolve().parents[3]


class VLLMUnavailable(RuntimeError):
    pass


def vllm_python() -> Path | None:
    """The interpreter of the vLLM environment, when one is set up."""
    candidates = [os.environ.get("ZHINAO_VLLM_PYTHON"), os.environ.get("ZHINAO_REPO") and
                  f"{os.environ['ZHINAO_REPO']}/.venv-vllm/bin/python", str(REPO / ".venv-vllm" / "bin" / "python")]
    for c in candidates:
        if c and Path(c).is_file():
            return Path(c)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServerConfig:
    model_path: str
    served_name: str
    max_model_len: int = 4096
    dtype: str = "auto"                  # vLLM CPU runs bfloat16 or float32; "auto" lets it choose
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.85
    cpu_kv_cache_gib: int = 2            # KV cache size on CPU (VLLM_CPU_KVCACHE_SPACE)
    seed: int = 0
    enforce_eager: bool = False          # skip graph compilation: faster start, slower decoding
    startup_timeout_s: float = 900.0


class VLLMServer:
    """`with VLLMServer(cfg) as url:` -- a running server's base URL (…/v1), stopped on exit."""

    def __init__(self, cfg: ServerConfig, python: Path | None = None):
        self.cfg = cfg
        self.python = python or vllm_python()
        if self.python is None:
            raise VLLMUnavailable("no vLLM environment: run `bash deployments/local/setup-vllm.sh` (or set "
                                  "ZHINAO_VLLM_PYTHON to a Python that has vllm), or pick backend=transformers, "
                                  "or give endpoint=<an OpenAI-compatible URL>")
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        logs = get_settings().home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.log_path = logs / f"vllm-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        c = self.cfg
        # the API server module, not `vllm serve`: the CLI looks up the "vllm" distribution's
        # metadata, which builds published under another name (vllm-cpu) do not have
        return [str(self.python), "-W", "ignore::DeprecationWarning", "-m", "vllm.entrypoints.openai.api_server",
                "--model", c.model_path, "--served-model-name", c.served_name,
                "--host", "127.0.0.1", "--port", str(self.port),
                "--max-model-len", str(c.max_model_len), "--dtype", c.dtype, "--seed", str(c.seed),
                "--tensor-parallel-size", str(c.tensor_parallel_size),
                "--gpu-memory-utilization", str(c.gpu_memory_utilization), "--disable-log-stats"] + \
            (["--enforce-eager"] if c.enforce_eager else [])

    def start(self) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
        env |= {"HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1",
                "VLLM_CPU_KVCACHE_SPACE": str(self.cfg.cpu_kv_cache_gib),
                # compiled graphs are cached beside the converted models: later starts skip compiling
                "VLLM_CACHE_ROOT": env.get("VLLM_CACHE_ROOT", str(models_dir() / ".vllm-cache"))}
        log.info("starting vLLM server for %s on 127.0.0.1:%d (log: %s)", self.cfg.served_name, self.port,
                 self.log_path)
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True, cwd=str(get_settings().home))
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self.url

    def _wait_healthy(self) -> None:
        import httpx

        deadline = time.monotonic() + self.cfg.startup_timeout_s
        started = time.monotonic()
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise VLLMUnavailable(f"vLLM server exited with code {self.proc.returncode} while starting:\n"
                                      + self.log_tail())
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    log.info("vLLM server ready after %.0fs", time.monotonic() - started)
                    return
            except httpx.TransportError:
                pass
            time.sleep(1.0)
        raise VLLMUnavailable(f"vLLM server not healthy after {self.cfg.startup_timeout_s:.0f}s:\n" + self.log_tail())

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        log.info("stopping vLLM server on port %d", self.port)
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass
        finally:
            self._log.close()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
