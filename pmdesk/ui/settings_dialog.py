"""Settings: the agent (key, model, executor, claude), concurrency, gates, the local API."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from pmdesk.config import AppSettings
from pmdesk.engine.cluster.connection import parse_address
from pmdesk.engine.permissions import parse_rules
from pmdesk.errors import PmdeskError
from pmdesk.models import Budget, ExecutorKind, PermissionMode, Project
from pmdesk.ui.dialogs import dollars_box
from pmdesk.ui.models.tables import executor_name


class SettingsDialog(QDialog):
    testClaudeRequested = Signal(str)
    loadModelsRequested = Signal()
    detectGatesRequested = Signal()

    def __init__(self, settings: AppSettings, has_saved_key: bool, project: Project | None,
                 parent: QWidget | None = None, theme: str = "system", found_claude: str | None = None,
                 key_from_environment: bool = False, has_cluster_token: bool = False) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Settings"))
        self.resize(640, 680)
        self.setMinimumSize(420, 300)
        outer = QVBoxLayout(self)
        scroll = QScrollArea()  # a small screen scrolls the settings; Save and Cancel stay in view
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 6, 0)
        scroll.setWidget(body)
        outer.addWidget(scroll, 1)

        agent = QGroupBox(self.tr("Agent"))
        form = QFormLayout(agent)
        self.api_key = QLineEdit()
        self.api_key.setEchoMode(QLineEdit.EchoMode.Password)
        if has_saved_key:
            self.api_key.setPlaceholderText(self.tr("saved — type to replace"))
        elif key_from_environment:
            self.api_key.setPlaceholderText(self.tr("in use from ANTHROPIC_API_KEY — type to save one instead"))
        else:
            self.api_key.setPlaceholderText(self.tr("sk-ant-… (stored in the system keyring)"))
        self.clear_key = QCheckBox(self.tr("Remove the saved key"))
        self.clear_key.setVisible(has_saved_key)
        key_row = QHBoxLayout()
        key_row.addWidget(self.api_key, 1)
        key_row.addWidget(self.clear_key)
        form.addRow(self.tr("Anthropic API key"), key_row)
        model_row = QHBoxLayout()
        self.model = QComboBox()
        self.model.setEditable(True)
        self.model.addItem(settings.default_model)
        model_row.addWidget(self.model, 1)
        self.load_models = QPushButton(self.tr("Load list"))
        self.load_models.setToolTip(self.tr("Ask the Models API which models this key can use"))
        self.load_models.clicked.connect(self.loadModelsRequested)
        model_row.addWidget(self.load_models)
        form.addRow(self.tr("Default model"), model_row)
        self.executor = QComboBox()
        self.executor.addItem(self.tr("Automatic (Claude Code if found, else the embedded agent)"), None)
        for kind in (ExecutorKind.CLAUDE_CODE, ExecutorKind.ANTHROPIC_AGENT, ExecutorKind.COMMAND):
            self.executor.addItem(executor_name(kind), kind.value)
        if settings.default_executor:
            self.executor.setCurrentIndex(max(0, self.executor.findData(settings.default_executor.value)))
        form.addRow(self.tr("Default executor"), self.executor)
        claude_row = QHBoxLayout()
        self.claude_path = QLineEdit(settings.claude_path or "")
        self.claude_path.setPlaceholderText(self.tr("found: %1").replace("%1", found_claude) if found_claude else
                                            self.tr("not found — install Claude Code, or give its path"))
        claude_row.addWidget(self.claude_path, 1)
        self.test_claude = QPushButton(self.tr("Test"))
        self.test_claude.clicked.connect(lambda: self.testClaudeRequested.emit(self.claude_path.text().strip()))
        claude_row.addWidget(self.test_claude)
        form.addRow(self.tr("Claude executable"), claude_row)
        self.claude_result = QLabel()
        self.claude_result.setWordWrap(True)
        form.addRow("", self.claude_result)
        self.concurrency = QSpinBox()
        self.concurrency.setRange(1, 32)
        self.concurrency.setValue(settings.concurrency)
        form.addRow(self.tr("Agents at once (default)"), self.concurrency)
        layout.addWidget(agent)

        self.project = project
        gates_box = QGroupBox(self.tr("Gates of %1").replace("%1", project.name) if project else self.tr("Gates"))
        gform = QVBoxLayout(gates_box)
        self.gates = QPlainTextEdit()
        self.gates.setPlaceholderText(self.tr("One command per line, e.g. npm run gate:tier0. "
                                              "Empty: detected from package.json."))
        self.gates.setPlainText("\n".join(project.settings.gates or []) if project else "")
        self.gates.setEnabled(project is not None)
        gform.addWidget(self.gates)
        self.detect = QPushButton(self.tr("Detect from package.json"))
        self.detect.setEnabled(project is not None)
        self.detect.clicked.connect(self.detectGatesRequested)
        gform.addWidget(self.detect)
        layout.addWidget(gates_box)
        layout.addWidget(self._permissions_box(project))
        layout.addWidget(self._budget_box(project))

        layout.addWidget(self._cluster_box(settings, has_cluster_token))

        api = QGroupBox(self.tr("Local HTTP API"))
        aform = QFormLayout(api)
        self.api_enabled = QCheckBox(self.tr("Serve the API on 127.0.0.1 while the window is open"))
        self.api_enabled.setChecked(settings.api_server_enabled)
        aform.addRow(self.api_enabled)
        self.api_port = QSpinBox()
        self.api_port.setRange(1024, 65535)
        self.api_port.setValue(settings.api_port)
        aform.addRow(self.tr("Port"), self.api_port)
        self.api_state = QLabel()
        self.api_state.setObjectName("hint")
        self.api_state.setWordWrap(True)
        self.api_state.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        aform.addRow(self.api_state)
        layout.addWidget(api)
        self._api_shown: tuple[str | None, str | None] = (None, None)
        self.api_enabled.toggled.connect(lambda _on: self.show_api_state(*self._api_shown))

        look = QGroupBox(self.tr("Appearance"))
        lform = QFormLayout(look)
        self.theme = QComboBox()
        for value, text in (("system", self.tr("Follow the system")), ("light", self.tr("Light")),
                            ("dark", self.tr("Dark"))):
            self.theme.addItem(text, value)
        self.theme.setCurrentIndex(max(0, self.theme.findData(theme)))
        lform.addRow(self.tr("Colours"), self.theme)
        layout.addWidget(look)
        layout.addStretch(1)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        outer.addWidget(buttons)

    def theme_choice(self) -> str:
        return str(self.theme.currentData())

    def _permissions_box(self, project: Project | None) -> QGroupBox:
        box = QGroupBox(self.tr("Permissions of %1").replace("%1", project.name) if project
                        else self.tr("Permissions"))
        box.setEnabled(project is not None)
        form = QFormLayout(box)
        self.permission_mode = QComboBox()
        for mode, text in ((PermissionMode.ASK, self.tr("Ask before every change (default)")),
                           (PermissionMode.ACCEPT_EDITS, self.tr("Accept file edits; commands ask")),
                           (PermissionMode.PLAN, self.tr("Plan first; I approve the plan")),
                           (PermissionMode.BYPASS, self.tr("Bypass: nothing asks (isolated worktrees only)"))):
            self.permission_mode.addItem(text, mode.value)
        settings = project.settings if project else None
        if settings is not None:
            self.permission_mode.setCurrentIndex(max(0, self.permission_mode.findData(settings.permission_mode.value)))
        form.addRow(self.tr("New runs"), self.permission_mode)
        self.confirm_bypass = QCheckBox(self.tr("I understand: agents in their own worktrees will run every tool "
                                                "without asking (recorded in the activity)"))
        self.confirm_bypass.setChecked(bool(settings and settings.bypass_confirmed))
        self.confirm_bypass.setEnabled(not (settings and settings.bypass_confirmed))

        def bypass_chosen() -> None:
            self.confirm_bypass.setVisible(self.permission_mode.currentData() == PermissionMode.BYPASS.value)

        self.permission_mode.currentIndexChanged.connect(lambda _i: bypass_chosen())
        bypass_chosen()
        form.addRow(self.confirm_bypass)
        self.allow_rules = QLineEdit(", ".join(settings.allow_rules) if settings else "")
        self.allow_rules.setPlaceholderText(self.tr("e.g. Read, Bash(npm test:*), Write(src/*)"))
        form.addRow(self.tr("Always allow"), self.allow_rules)
        self.deny_rules = QLineEdit(", ".join(settings.deny_rules) if settings else "")
        self.deny_rules.setPlaceholderText(self.tr("e.g. WebFetch, Bash(git push:*)"))
        form.addRow(self.tr("Always deny"), self.deny_rules)
        self.permission_problem = QLabel()
        self.permission_problem.setObjectName("error")
        self.permission_problem.setWordWrap(True)
        self.permission_problem.hide()
        form.addRow(self.permission_problem)
        return box

    def _cluster_box(self, settings: AppSettings, has_token: bool) -> QGroupBox:
        """Where plans' runs execute by default: this machine, or a Ray cluster (DESIGN §13)."""
        box = QGroupBox(self.tr("Ray cluster"))
        form = QFormLayout(box)
        self.cluster = QLineEdit(settings.cluster or "")
        self.cluster.setPlaceholderText(self.tr("ray://HOST:10001 — empty: plans run on this machine"))
        self.cluster.setAccessibleName(self.tr("Cluster address"))
        form.addRow(self.tr("Address"), self.cluster)
        self.cluster_token = QLineEdit()
        self.cluster_token.setEchoMode(QLineEdit.EchoMode.Password)
        self.cluster_token.setPlaceholderText(self.tr("saved — type to replace") if has_token else
                                              self.tr("only if the cluster uses Ray's token authentication"))
        self.clear_cluster_token = QCheckBox(self.tr("Remove the saved token"))
        self.clear_cluster_token.setVisible(has_token)
        row = QHBoxLayout()
        row.addWidget(self.cluster_token, 1)
        row.addWidget(self.clear_cluster_token)
        form.addRow(self.tr("Token"), row)
        hint = QLabel(self.tr("A plan's runs go there when you dispatch it there (or by default when an address is "
                              "set here). Its nodes need pmdesk[ray] and their agent; the token is kept like the API key."))
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        form.addRow(hint)
        return box

    def cluster_token_change(self) -> tuple[bool, str | None]:
        if self.clear_cluster_token.isChecked():
            return True, None
        text = self.cluster_token.text().strip()
        return (True, text) if text else (False, None)

    def _budget_box(self, project: Project | None) -> QGroupBox:
        box = QGroupBox(self.tr("Budget of %1").replace("%1", project.name) if project else self.tr("Budget"))
        box.setEnabled(project is not None)
        form = QFormLayout(box)
        budget = project.settings.monthly_budget if project else None
        self.budget_usd = dollars_box(self.tr("Monthly budget in USD"), budget.usd if budget and budget.usd else 0.0)
        form.addRow(self.tr("Per month (USD)"), self.budget_usd)
        self.budget_tokens = QSpinBox()
        self.budget_tokens.setAccessibleName(self.tr("Monthly budget in tokens"))
        self.budget_tokens.setRange(0, 2_000_000_000)
        self.budget_tokens.setSingleStep(100_000)
        self.budget_tokens.setSpecialValueText(self.tr("none"))
        self.budget_tokens.setValue(budget.tokens if budget and budget.tokens else 0)
        form.addRow(self.tr("Per month (tokens)"), self.budget_tokens)
        note = QLabel(self.tr("A calendar month, UTC. A dispatch whose estimate would go over starts nothing; a run "
                              "that goes over stops and waits for you; raising the budget lets held plans go on."))
        note.setWordWrap(True)
        form.addRow(note)
        return box

    def budget(self) -> Budget | None:
        usd, tokens = self.budget_usd.value(), self.budget_tokens.value()
        return Budget(usd=usd or None, tokens=tokens or None) if usd or tokens else None

    def accept(self) -> None:
        """Stay open on a permission choice the engine would refuse, and say why beside it."""
        problem = None
        if self.project is not None:
            try:
                parse_rules(_rules(self.allow_rules.text()) + _rules(self.deny_rules.text()))
            except PmdeskError as exc:
                problem = str(exc)
            if (self.permission_mode.currentData() == PermissionMode.BYPASS.value
                    and not self.confirm_bypass.isChecked()):
                problem = self.tr("Bypass needs your confirmation: tick the box above, or choose another mode.")
        self.permission_problem.setText(problem or "")
        self.permission_problem.setVisible(problem is not None)
        if problem is None:
            super().accept()

    def permissions(self) -> dict[str, Any]:
        """``Engine.set_permissions``'s arguments as the user left them."""
        return {"mode": str(self.permission_mode.currentData()), "allow": _rules(self.allow_rules.text()),
                "deny": _rules(self.deny_rules.text()),
                "confirm_bypass": self.permission_mode.currentData() == PermissionMode.BYPASS.value
                and self.confirm_bypass.isChecked()}

    def show_api_state(self, url: str | None, error: str | None) -> None:
        from pmdesk.api.token import token_path

        self._api_shown = (url, error)
        if url and not self.api_enabled.isChecked():
            self.api_state.setText(self.tr("Serving %1/api — stops when you save").replace("%1", url))
        elif not url and self.api_enabled.isChecked():
            self.api_state.setText(self.tr("Starts when you save.") if not error else
                                   self.tr("Not running: %1 — saving tries again").replace("%1", error))
        elif error:
            self.api_state.setText(self.tr("Not running: %1").replace("%1", error))
        elif url:
            self.api_state.setText(self.tr("Serving %1/api — token in %2").replace("%1", url)
                                   .replace("%2", str(token_path())))
        else:
            self.api_state.setText(self.tr("Off. Scripts can also use 'pmdesk serve' without the window."))

    def set_models(self, names: list[str]) -> None:
        current = self.model.currentText()
        self.model.clear()
        self.model.addItems(names)
        self.model.setCurrentText(current)

    def settings(self, base: AppSettings) -> AppSettings:
        executor = self.executor.currentData()
        return base.model_copy(update={
            "default_model": self.model.currentText().strip() or base.default_model,
            "default_executor": ExecutorKind(executor) if executor else None,
            "claude_path": self.claude_path.text().strip() or None,
            "concurrency": self.concurrency.value(),
            "api_server_enabled": self.api_enabled.isChecked(),
            "api_port": self.api_port.value(),
            "cluster": parse_address(self.cluster.text()) if self.cluster.text().strip() else None,
        })

    def key_change(self) -> tuple[bool, str | None]:
        """(changed, new value or None to remove)."""
        if self.clear_key.isChecked():
            return True, None
        text = self.api_key.text().strip()
        return (True, text) if text else (False, None)

    def gate_lines(self) -> list[str] | None:
        lines = [line.strip() for line in self.gates.toPlainText().splitlines() if line.strip()]
        return lines or None

    def values(self) -> dict[str, Any]:
        return {"gates": self.gate_lines()}


def _rules(text: str) -> list[str]:
    """Rules as typed, split on commas outside parentheses (a pattern may hold a comma)."""
    rules: list[str] = []
    depth, current = 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char in ",\n" and depth <= 0:
            rules.append(current.strip())
            current = ""
        else:
            current += char
    rules.append(current.strip())
    return [r for r in rules if r]
