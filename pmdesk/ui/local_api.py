"""The window's own HTTP API server, on the window's loop, started and stopped with the setting."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pmdesk.api.server import ApiServer
    from pmdesk.config import AppSettings
    from pmdesk.engine.engine import Engine


class LocalApi:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.server: ApiServer | None = None
        self.error: str | None = None

    @property
    def url(self) -> str | None:
        return self.server.url if self.server is not None else None

    async def apply(self, settings: AppSettings) -> None:
        """Serve when the setting is on, on its port; a port in use becomes ``error``, never a crash."""
        wanted = settings.api_server_enabled
        if self.server is not None and (not wanted or self.server.port != settings.api_port):
            await self.stop()
        self.error = None
        if not wanted or self.server is not None:
            return
        from pmdesk.api.errors import ApiError
        from pmdesk.api.server import ApiServer  # aiohttp loads only when the API is wanted

        server = ApiServer(self.engine, "127.0.0.1", settings.api_port)
        try:
            await server.start()
        except ApiError as exc:
            self.error = exc.message
            return
        self.server = server

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None
