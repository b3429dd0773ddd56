"""Review a change: the files it touched with their +/− counts, and the unified diff coloured.

The engine hands over a ``Diff`` (sections of stat and patch); this only shows it. Clicking a
file scrolls the patch to it. Colours follow the palette, so a dark theme stays readable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QPalette, QSyntaxHighlighter, QTextCharFormat, QTextCursor, QTextDocument
from PySide6.QtWidgets import (
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from pmdesk.engine.worktrees.diff import Diff

MAX_SHOWN_CHARS = 400_000


def _dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Base).lightness() < 128


class DiffHighlighter(QSyntaxHighlighter):
    """Added lines green, removed red, hunk headers blue, file headers bold."""

    def __init__(self, document: QTextDocument, dark: bool) -> None:
        super().__init__(document)
        self.formats: dict[str, QTextCharFormat] = {}
        colours = {"+": ("#7ee787", "#1a7f37"), "-": ("#ff7b72", "#cf222e"), "@": ("#79c0ff", "#0550ae")}
        backgrounds = {"+": ("#12301c", "#e6ffec"), "-": ("#3a1418", "#ffebe9")}
        for key, (on_dark, on_light) in colours.items():
            fmt = QTextCharFormat()
            fmt.setForeground(QColor(on_dark if dark else on_light))
            if key in backgrounds:
                fmt.setBackground(QColor(backgrounds[key][0 if dark else 1]))
            self.formats[key] = fmt
        header = QTextCharFormat()
        header.setFontWeight(QFont.Weight.Bold)
        self.formats["header"] = header

    def highlightBlock(self, text: str) -> None:
        if text.startswith(("diff --git", "+++ ", "--- ", "index ", "new file", "deleted file", "rename ")):
            self.setFormat(0, len(text), self.formats["header"])
        elif text.startswith("@@"):
            self.setFormat(0, len(text), self.formats["@"])
        elif text.startswith("+"):
            self.setFormat(0, len(text), self.formats["+"])
        elif text.startswith("-"):
            self.setFormat(0, len(text), self.formats["-"])


class DiffView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("DiffView")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.summary = QLabel(self.tr("Select a plan or a run to see what it changed."))
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.summary)
        split = QSplitter(Qt.Orientation.Vertical)
        self.files = QTreeWidget()
        self.files.setAccessibleName(self.tr("Changed files"))
        self.files.setObjectName("DiffFiles")
        self.files.setHeaderLabels([self.tr("File"), "+", "−"])
        self.files.setRootIsDecorated(False)
        self.files.setUniformRowHeights(True)
        self.files.header().setStretchLastSection(False)
        self.files.setColumnWidth(1, 54)
        self.files.setColumnWidth(2, 54)
        self.files.header().setSectionResizeMode(0, self.files.header().ResizeMode.Stretch)
        self.files.itemActivated.connect(self._jump)
        self.files.itemClicked.connect(self._jump)
        self.patch = QPlainTextEdit()
        self.patch.setAccessibleName(self.tr("The diff"))
        self.patch.setObjectName("DiffPatch")
        self.patch.setReadOnly(True)
        self.patch.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.patch.setFont(QFont("DejaVu Sans Mono", 9))
        self.highlighter = DiffHighlighter(self.patch.document(), _dark(self.palette()))
        split.addWidget(self.files)
        split.addWidget(self.patch)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 3)
        layout.addWidget(split, 1)
        self.target: str | None = None

    def clear_view(self, text: str) -> None:
        self.target = None
        self.summary.setText(text)
        self.files.clear()
        self.patch.clear()

    def show_diff(self, diff: Diff) -> None:
        self.target = diff.target
        self.files.clear()
        patches: list[str] = []
        files = added = removed = 0
        for section in diff.sections:
            if len(diff.sections) > 1:
                head = QTreeWidgetItem([section.label, "", ""])
                head.setFirstColumnSpanned(True)
                font = head.font(0)
                font.setBold(True)
                head.setFont(0, font)
                self.files.addTopLevelItem(head)
            for change in section.stat.files:
                item = QTreeWidgetItem([change.path, "bin" if change.binary else f"+{change.added}",
                                        "" if change.binary else f"−{change.removed}"])
                item.setData(0, Qt.ItemDataRole.UserRole, change.path)
                item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight)
                item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight)
                self.files.addTopLevelItem(item)
            files += section.stat.files_changed
            added += section.stat.lines_added
            removed += section.stat.lines_removed
            if section.patch:
                patches.append(section.patch + (self.tr("\n… cut here: the diff is larger than the view shows\n")
                                                if section.truncated else ""))
        if not diff.sections:
            self.summary.setText(diff.note or self.tr("Nothing to compare yet."))
        else:
            what = diff.sections[0].label if len(diff.sections) == 1 else \
                self.tr("%1 tasks").replace("%1", str(len(diff.sections)))
            counts = self.tr("no changes") if files == 0 else self.tr("%1 file(s) changed, +%2 −%3").replace(
                "%1", str(files)).replace("%2", str(added)).replace("%3", str(removed))
            self.summary.setText(f"<b>{what.replace('<', '&lt;')}</b>: {counts}")
        self.patch.setPlainText("".join(patches)[:MAX_SHOWN_CHARS])

    def _jump(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        path = item.data(0, Qt.ItemDataRole.UserRole)
        if not path:
            return
        found = self.patch.document().find(f"diff --git a/{path} ")
        if found.isNull():
            found = self.patch.document().find(f" b/{path}")
        if not found.isNull():
            cursor = QTextCursor(found)
            cursor.movePosition(QTextCursor.MoveOperation.StartOfBlock)
            self.patch.setTextCursor(cursor)
            self.patch.centerCursor()
