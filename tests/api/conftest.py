"""A real `pmdesk serve` process on 127.0.0.1 and a small client for it."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


class Client:
    def __init__(self, port: int, token: str | None) -> None:
        self.port = port
        self.token = token

    def request(self, method: str, path: str, body: Any = None, *, token: str | None = "default",
                headers: dict[str, str] | None = None, raw: bytes | None = None, timeout: float = 60) -> Answer:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        sent = dict(headers or {})
        use = self.token if token == "default" else token
        if use is not None:
            sent["Authorization"] = f"Bearer {use}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            payload = response.read()
        finally:
            conn.close()
        parsed = json.loads(payload) if payload else None
        return Answer(response.status, parsed, {k.lower(): v for k, v in response.getheaders()})

    def get(self, path: str, **kw: Any) -> Answer:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Answer:
        return self.request("POST", path, body if body is not None else {}, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Answer:
        return self.request("PUT", path, body if body is not None else {}, **kw)


@dataclass
class Server:
    process: subprocess.Popen[str]
    port: int
    token: str
    client: Client

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_server(extra_args: tuple[str, ...] = ()) -> Server:
    process = subprocess.Popen(
        [sys.executable, "-m", "pmdesk", "serve", "--port", "0", *extra_args], cwd=ROOT, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    assert process.stdout is not None
    line = process.stdout.readline()
    if "API on" not in line:
        process.kill()
        raise AssertionError(f"serve did not start: {line!r} {process.stderr.read() if process.stderr else ''}")
    port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
    token_file = Path(os.environ["XDG_CONFIG_HOME"]) / "pmdesk" / "api-token"
    token = token_file.read_text().strip()
    return Server(process, port, token, Client(port, token))


def stop_server(server: Server) -> str:
    server.process.send_signal(signal.SIGTERM)
    try:
        _, err = server.process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        _, err = server.process.communicate()
    return err


@pytest.fixture
def server(private_home: Path) -> Iterator[Server]:
    started = start_server()
    yield started
    stop_server(started)


def poll(check: Any, timeout: float = 30, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(every)
