"""Settings: the dialog, testing the claude binary, loading the model list, the window's local API."""

from __future__ import annotations

import asyncio
import importlib
import os
import shutil
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QApplication

from pmdesk import config
from pmdesk.engine.gates import detect_npm_gates
from pmdesk.executors.discovery import find_claude
from pmdesk.models import mark
from pmdesk.ui import theme
from pmdesk.ui.controllers.shell import Shell
from pmdesk.ui.local_api import LocalApi
from pmdesk.ui.settings_dialog import SettingsDialog

VERSION_TIMEOUT_S = 20


class SettingsController(QObject):
    def __init__(self, shell: Shell) -> None:
        super().__init__(shell)
        self.shell = shell
        self.engine = shell.engine
        self.local_api = LocalApi(shell.engine)
        self.settings_open: SettingsDialog | None = None
        shell.dashboard.settingsRequested.connect(self.settings_dialog)

    async def start(self) -> None:
        self.shell.dashboard.agent_banner.setVisible(not self.agent_available())
        await self.apply_api_setting()

    def agent_available(self) -> bool:
        return bool(find_claude(self.engine.settings) or config.api_key())

    async def apply_api_setting(self) -> None:
        await self.local_api.apply(self.engine.settings)
        if self.local_api.error:
            self.shell.status(self.tr("Local API not started: %1").replace("%1", self.local_api.error), 15000)
        elif self.local_api.url:
            self.shell.status(self.tr("Local API on %1/api").replace("%1", self.local_api.url))
        self.shell.contextChanged.emit()

    def settings_dialog(self) -> None:
        shell = self.shell
        project = self.engine.project_settings(shell.project) if shell.project else None
        saved_key = bool(config.saved_api_key())
        dialog = SettingsDialog(self.engine.settings, saved_key, project, shell.window,
                                theme=theme.saved_choice(),
                                found_claude=find_claude(self.engine.settings),
                                key_from_environment=not saved_key and bool(os.environ.get("ANTHROPIC_API_KEY")),
                                has_cluster_token=bool(config.saved_cluster_token()))
        dialog.show_api_state(self.local_api.url, self.local_api.error)

        def test_claude(path: str) -> None:
            async def go() -> str:
                binary = path or find_claude(self.engine.settings) or shutil.which("claude")
                if not binary:
                    return self.tr("No claude executable found on PATH.")
                try:
                    proc = await asyncio.create_subprocess_exec(
                        binary, "--version", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
                    out, _ = await asyncio.wait_for(proc.communicate(), VERSION_TIMEOUT_S)
                except (TimeoutError, OSError) as exc:
                    return self.tr("%1 could not run: %2").replace("%1", binary).replace("%2", str(exc))
                text = out.decode(errors="replace").strip()
                return f"{mark(proc.returncode == 0)} {binary}: {text}"

            dialog.claude_result.setText(self.tr("Testing…"))
            shell.run(go(), self.tr("Test claude"), dialog.claude_result.setText)

        def load_models() -> None:
            async def go() -> list[str]:
                # The SDK takes seconds to import: never on the Qt thread.
                clients = await asyncio.to_thread(importlib.import_module, "pmdesk.executors.anthropic_client")
                key = dialog.api_key.text().strip()
                client = clients.make_client() if not key else clients.anthropic.AsyncAnthropic(
                    api_key=key, base_url=config.api_base_url())
                try:
                    page = await client.models.list(limit=100)
                    return [m.id for m in page.data]
                finally:
                    await client.close()

            shell.run(go(), self.tr("Load models"), dialog.set_models)

        def detect() -> None:
            if project is None:
                return
            gates = [" ".join(g.argv) for g in detect_npm_gates(Path(project.path)) if g.argv]
            dialog.gates.setPlainText("\n".join(gates))
            if not gates:
                dialog.gates.setPlaceholderText(self.tr("package.json defines no gate:* scripts"))

        def save() -> None:
            app = QApplication.instance()
            if isinstance(app, QApplication):
                theme.apply_saved(app, dialog.theme_choice())
            self.engine.settings = dialog.settings(self.engine.settings)  # a bad cluster address stops here, said
            config.save_settings(self.engine.settings)
            token_changed, token = dialog.cluster_token_change()
            if token_changed:
                config.save_cluster_token(token)
                self.engine.redactor.secrets = [k for k in (config.api_key(), config.saved_cluster_token()) if k]
                shell.status(self.tr("Cluster token saved") if token else self.tr("Cluster token removed"))
            changed, key = dialog.key_change()
            if changed:
                where = config.save_api_key(key)
                self.engine.redactor.secrets = [k for k in (config.api_key(), config.saved_cluster_token()) if k]
                shell.status(self.tr("API key saved in %1").replace("%1", where) if key else self.tr("API key removed"))
            if project is not None:
                project.settings.gates = dialog.gate_lines()
                self.engine.save_project(project)
                saved = self.engine.set_permissions(project, **dialog.permissions())
                if dialog.budget() != saved.settings.monthly_budget:
                    shell.run(self.engine.set_budget(saved, dialog.budget()), self.tr("Budget"))
                if shell.project and shell.project.project_id == saved.project_id:
                    shell.page.project = saved
            shell.dashboard.agent_banner.setVisible(not self.agent_available())
            shell.run(self.apply_api_setting(), self.tr("Local API"))

        dialog.testClaudeRequested.connect(test_claude)
        dialog.loadModelsRequested.connect(load_models)
        dialog.detectGatesRequested.connect(detect)
        dialog.accepted.connect(lambda: shell.guard(self.tr("Save settings"), save))
        self.settings_open = dialog
        shell.open_dialog(dialog)
