"""The aiohttp application and its lifecycle: `pmdesk serve`, or the window's own loop."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import sys
from collections.abc import Awaitable, Callable

from aiohttp import web

from pmdesk.api.errors import ApiError, as_api_error, error_response
from pmdesk.api.openapi import openapi_bytes
from pmdesk.api.routes import ROUTES, Api
from pmdesk.api.schemas import MAX_BODY_BYTES
from pmdesk.api.token import load_or_create_token, token_matches, token_path
from pmdesk.engine.engine import Engine
from pmdesk.engine.signals import on_stop_signals

log = logging.getLogger(__name__)
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}
API_KEY = web.AppKey("api", Api)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_name(header: str) -> str:
    """``127.0.0.1:8765`` → ``127.0.0.1``; ``[::1]:8765`` → ``[::1]``."""
    if header.startswith("["):
        return header.split("]", 1)[0] + "]"
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


Next = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_app(engine: Engine, token: str, *, check_host: bool = True) -> web.Application:
    @web.middleware
    async def guard(request: web.Request, handler: Next) -> web.StreamResponse:
        if check_host and not is_loopback(_host_name(request.headers.get("Host", ""))):
            return error_response(400, "bad_host", "the Host header must name the loopback address")
        if not token_matches(token, request.headers.get("Authorization")):
            return error_response(401, "unauthorized", f"send Authorization: Bearer <the token in {token_path()}>")
        length = request.content_length
        if length is not None and length > MAX_BODY_BYTES:
            return error_response(413, "too_large", f"the body is over {MAX_BODY_BYTES} bytes")
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status == 413:
                return error_response(413, "too_large", f"the body is over {MAX_BODY_BYTES} bytes")
            if exc.status == 404:
                return error_response(404, "not_found", f"no endpoint {request.method} {request.path}")
            if exc.status == 405:
                return error_response(405, "method_not_allowed", f"{request.method} is not allowed on {request.path}")
            return error_response(exc.status, exc.reason.lower().replace(" ", "_"), exc.text or exc.reason)
        except Exception as exc:
            mapped = as_api_error(exc)
            if mapped is None:
                log.exception("API %s %s failed", request.method, request.path)
                return error_response(500, "internal", f"{type(exc).__name__}: {exc}")
            if mapped.status >= 500:
                log.error("API %s %s: %s", request.method, request.path, mapped.message)
            return error_response(mapped.status, mapped.code, mapped.message, **mapped.extra)

    app = web.Application(middlewares=[guard], client_max_size=MAX_BODY_BYTES)
    api = Api(engine)
    app[API_KEY] = api

    async def openapi(_: web.Request) -> web.Response:
        return web.Response(body=openapi_bytes(), content_type="application/json")

    app.router.add_get("/api/openapi.json", openapi)
    for route in ROUTES:
        app.router.add_route(route.method, route.path, getattr(api, route.handler), name=route.name)

    return app


class ApiServer:
    """One listening site on the engine's loop; started by `serve` or by the window."""

    def __init__(self, engine: Engine, host: str = "127.0.0.1", port: int = 8765, *, allow_remote: bool = False) -> None:
        if not is_loopback(host) and not allow_remote:
            raise ApiError(400, "not_loopback", f"{host} is not a loopback address; binding there lets other "
                           "machines reach your agents (token-protected). Pass --allow-remote to do it anyway.")
        self.engine = engine
        self.host = host
        self.port = port
        self.token = load_or_create_token()
        self.app = create_app(engine, self.token, check_host=is_loopback(host))
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            raise ApiError(409, "port_in_use", f"cannot listen on {self.url}: {exc.strerror} "
                           "(another pmdesk serve, or the window's API, may be running)") from None
        if self.port == 0:  # an ephemeral port, for tests
            self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def serve(host: str, port: int, allow_remote: bool = False) -> int:
    """`pmdesk serve`: the engine headless until Ctrl-C, TERM or HUP."""

    async def main() -> int:
        engine = Engine(role="serve")
        for note in engine.recover():
            print(f"recovered: {note}", file=sys.stderr)
        server = ApiServer(engine, host, port, allow_remote=allow_remote)
        await server.start()
        engine.watch_others()  # what the CLI and the window write is published (and indexed) here too
        engine.index_in_background()
        if not is_loopback(host):
            print(f"WARNING: listening on {host}: anyone who can reach it and has the token controls your agents",
                  file=sys.stderr)
        print(f"pmdesk API on {server.url}/api  (OpenAPI: {server.url}/api/openapi.json)", flush=True)
        print(f"token: {token_path()}  (send Authorization: Bearer <token>)", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        undo = on_stop_signals(loop, stop.set)
        await stop.wait()
        undo()
        print("stopping: live runs are cancelled, runs waiting for an answer stay answerable", file=sys.stderr)
        await server.stop()
        await engine.runs.detach()
        await engine.shutdown()
        return 0

    try:
        return asyncio.run(main())
    except ApiError as exc:
        print(f"pmdesk: {exc.message}", file=sys.stderr)
        return 1 if exc.code == "port_in_use" else 2
