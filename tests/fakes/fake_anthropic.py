"""A fake Messages API on 127.0.0.1 that the real anthropic SDK talks to.

Tests queue replies; each request takes the next one. A reply is a JSON body (200), a
``Status(code, body)``, a ``Delay(seconds, reply)``, ``Raw(text)`` (a body that is not
JSON), or a callable taking the request JSON and returning any of these.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass
class Status:
    code: int
    body: dict[str, Any] | None = None


@dataclass
class Delay:
    seconds: float
    reply: Any


@dataclass
class Raw:
    text: str


def tool_use(name: str, payload: Any, text: str | None = None) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if text:
        content.append({"type": "text", "text": text})
    content.append({"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:12]}", "name": name, "input": payload})
    return message(content, stop_reason="tool_use")


def text_reply(text: str) -> dict[str, Any]:
    return message([{"type": "text", "text": text}], stop_reason="end_turn")


def message(content: list[dict[str, Any]], stop_reason: str = "end_turn", model: str = "claude-sonnet-4-6") -> dict[str, Any]:
    return {
        "id": f"msg_{uuid.uuid4().hex[:16]}", "type": "message", "role": "assistant", "model": model,
        "content": content, "stop_reason": stop_reason, "stop_sequence": None,
        "usage": {"input_tokens": 1000, "output_tokens": 200},
    }


def error_body(kind: str, text: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": text}}


class FakeAnthropic:
    def __init__(self) -> None:
        self.replies: deque[Any] = deque()
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.default: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def queue(self, *replies: Any) -> None:
        self.replies.extend(replies)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.method == "HEAD":
            return web.Response(status=200)
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        reply: Any = self.replies.popleft() if self.replies else self.default
        if reply is None:
            return web.json_response(error_body("api_error", "fake server: no reply queued"), status=500)
        return await self._respond(reply, body, request)

    async def _respond(self, reply: Any, body: dict[str, Any], request: web.Request) -> web.StreamResponse:
        if callable(reply):
            reply = reply(body)
        if isinstance(reply, Delay):
            await asyncio.sleep(reply.seconds)
            return await self._respond(reply.reply, body, request)
        if isinstance(reply, Status):
            return web.json_response(reply.body or error_body("api_error", f"status {reply.code}"), status=reply.code,
                                     headers={"retry-after-ms": "10"})
        if isinstance(reply, Raw):
            return web.Response(text=reply.text, content_type="application/json")
        if body.get("stream"):
            return await self._stream(reply, request, body.get("model"))
        return web.json_response(reply)

    async def _stream(self, reply: dict[str, Any], request: web.Request, request_model: str | None) -> web.StreamResponse:
        """The same message as server-sent events, as the Messages API streams it (Claude Code asks for this)."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        usage = reply.get("usage") or {"input_tokens": 10, "output_tokens": 5}

        async def send(event: str, data: dict[str, Any]) -> None:
            await response.write(f"event: {event}\ndata: {json.dumps({'type': event, **data})}\n\n".encode())

        start = {k: v for k, v in reply.items() if k not in ("content", "stop_reason", "usage")}
        start.update(content=[], stop_reason=None, stop_sequence=None, model=reply.get("model") or request_model,
                     usage={"input_tokens": usage.get("input_tokens", 0), "output_tokens": 1})
        await send("message_start", {"message": start})
        for index, block in enumerate(reply.get("content", [])):
            if block.get("type") == "tool_use":
                await send("content_block_start", {"index": index, "content_block": {**block, "input": {}}})
                await send("content_block_delta", {"index": index, "delta": {
                    "type": "input_json_delta", "partial_json": json.dumps(block.get("input", {}))}})
            else:
                await send("content_block_start", {"index": index, "content_block": {"type": "text", "text": ""}})
                await send("content_block_delta", {"index": index, "delta": {"type": "text_delta", "text": block.get("text", "")}})
            await send("content_block_stop", {"index": index})
        await send("message_delta", {"delta": {"stop_reason": reply.get("stop_reason", "end_turn"), "stop_sequence": None},
                                     "usage": {"output_tokens": usage.get("output_tokens", 0)}})
        await send("message_stop", {})
        await response.write_eof()
        return response

    def start(self) -> FakeAnthropic:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application(client_max_size=64 * 1024 * 1024)
            app.router.add_route("*", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)


def last_user_text(request: dict[str, Any]) -> str:
    for msg in reversed(request.get("messages", [])):
        if msg.get("role") == "user":
            content = msg.get("content")
            if isinstance(content, str):
                return content
            return " ".join(str(b.get("text") or b.get("content") or "") for b in content if isinstance(b, dict))
    return ""


Handler = Callable[[dict[str, Any]], Any]
