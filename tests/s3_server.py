"""A real S3 API for tests: moto's standalone server in a subprocess on 127.0.0.1 (it enforces
conditional puts, If-None-Match and If-Match, as S3 does)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass

import httpx

from zhinao.model.launch import free_port, terminate


@dataclass
class S3Server:
    endpoint: str
    env: dict[str, str]        # what a client process needs to reach it

    def bucket(self) -> str:
        """A fresh bucket; its s3:// URI."""
        import boto3

        name = f"zhinao-{uuid.uuid4().hex[:12]}"
        boto3.client("s3", endpoint_url=self.endpoint).create_bucket(Bucket=name)
        return f"s3://{name}"


def start_s3_server(log_path) -> tuple[S3Server, subprocess.Popen]:
    port = free_port()
    log = open(log_path, "wb")
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        try:
            httpx.get(f"{endpoint}/moto-api/", timeout=2)
            break
        except httpx.HTTPError:
            if proc.poll() is not None or time.time() > deadline:
                terminate(proc, 5)
                raise RuntimeError(f"moto's S3 server did not start; see {log_path}")
            time.sleep(0.2)
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
    os.environ.update(env)
    return S3Server(endpoint, env), proc
