"""Inspection packets: open one to read, copy it as Markdown, export it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QObject

from pmdesk.engine.inspect import packet_markdown
from pmdesk.models import InspectionPacket, Project
from pmdesk.ui.controllers.shell import Shell
from pmdesk.ui.models.tables import short
from pmdesk.ui.widgets.packet_view import PacketDialog
from pmdesk.ui.widgets.tables import copy_text


class PacketsController(QObject):
    def __init__(self, shell: Shell) -> None:
        super().__init__(shell)
        self.shell = shell
        self.engine = shell.engine
        self.viewer: PacketDialog | None = None
        shell.page.packets.opened.connect(lambda record: self.open_packet(_packet_id(record)))

    async def _read(self, project: Project, packet_id: str) -> tuple[InspectionPacket, str]:
        def read() -> tuple[InspectionPacket, str]:
            packet = self.engine.packet(project, packet_id)
            return packet, packet_markdown(packet)

        return await asyncio.to_thread(read)

    def open_packet(self, packet_id: str) -> None:
        """The packet in a readable view (read off the Qt thread)."""
        project = self.shell.project
        if project is None:
            return

        async def open_it() -> None:
            packet, markdown = await self._read(project, packet_id)
            if not shiboken6.isValid(self.shell.window):
                return
            heading = self.tr("Run %1 — %2: %3").replace("%1", packet.run_id).replace(
                "%2", str(packet.task.get("status") or "")).replace("%3", short(str(packet.task.get("prompt") or ""), 120))
            viewer = PacketDialog(packet.packet_id, markdown, heading, self.shell.window)
            viewer.exportWanted.connect(lambda path, as_json: self.export(project, packet.packet_id, path, as_json))
            if self.viewer is not None and shiboken6.isValid(self.viewer):
                self.viewer.close()
            self.viewer = viewer
            viewer.open()

        self.shell.run(open_it(), self.tr("Open packet"))

    def copy_markdown(self, packet_id: str) -> None:
        project = self.shell.project
        if project is None:
            return

        def copied(found: tuple[InspectionPacket, str]) -> None:
            copy_text(found[1])
            self.shell.status(self.tr("Packet %1 copied as Markdown").replace("%1", packet_id))

        self.shell.run(self._read(project, packet_id), self.tr("Copy packet"), copied)

    def export(self, project: Project, packet_id: str, path: str, as_json: bool) -> None:
        """Write the packet where the user chose, as Markdown or JSON (a file, off the Qt thread)."""
        async def write() -> str:
            packet, markdown = await self._read(project, packet_id)
            text = json.dumps(packet.to_json_dict(), indent=2, ensure_ascii=False) + "\n" if as_json else markdown
            await asyncio.to_thread(Path(path).write_text, text, "utf-8")
            return path

        self.shell.run(write(), self.tr("Export packet"),
                       lambda where: self.shell.status(self.tr("Packet exported to %1").replace("%1", where), 10000))


def _packet_id(record: Any) -> str:
    return str(record["packetId"])
