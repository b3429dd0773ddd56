"""Odd requests get a 4xx with a reason, never a 5xx (a fuzzer's favourites, sent by hand)."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any

from tests.api.conftest import Server


def raw(port: int, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> int:
    """Bytes on the wire, headers as given (http.client would refuse some of them)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for name, value in headers:
        conn.putheader(name, value)  # type: ignore[arg-type]
    conn.endheaders(body or None)
    status = conn.getresponse().status
    conn.close()
    return status


def test_odd_inputs_are_refused_as_bad_requests(server: Server, tmp_path: Path) -> None:
    client, port, token = server.client, server.port, server.token
    auth = f"Bearer {token}".encode()
    host = (b"Host", f"127.0.0.1:{port}".encode())
    statuses: dict[str, Any] = {
        "non-ASCII byte in Authorization": raw(port, "GET", "/api/projects", [host, (b"Authorization", b"Bearer \xff\xfe")]),
        "non-ASCII after the token": raw(port, "GET", "/api/projects", [host, (b"Authorization", auth + b"\xe9")]),
    }
    deep = b"[" * 100_000 + b"]" * 100_000
    big_number = b'{"path": ' + b"9" * 5000 + b"}"
    nul_path = json.dumps({"path": str(tmp_path) + "\u0000x"}).encode()
    for name, body in (("deeply nested JSON", deep), ("a 5,000-digit number", big_number),
                       ("a NUL byte in a project path", nul_path), ("not UTF-8", b'{"path": "\xff"}')):
        statuses[name] = raw(port, "POST", "/api/projects",
                             [host, (b"Authorization", auth), (b"Content-Type", b"application/json"),
                              (b"Content-Length", str(len(body)).encode())], body)
    statuses["a NUL byte in an id"] = client.get("/api/runs/run_%00x").status
    statuses["a dispatch body of the wrong types"] = client.post(
        "/api/plans/plan_00000000-0000-4000-8000-000000000000/dispatch", {"parallel": "sometimes"}).status
    server_errors = {name: status for name, status in statuses.items() if not 400 <= status < 500}
    assert server_errors == {}, statuses
