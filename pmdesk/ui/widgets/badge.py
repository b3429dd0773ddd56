"""The pulsing NEEDS RESPONSE badge, as a label and as a table-cell delegate.

One shared animation drives every badge, so fifty awaiting rows cost one timer; the
delegate repaints only the badge column, and only while some row shows a badge.
"""

from __future__ import annotations

from PySide6.QtCore import (
    Property,
    QEasingCurve,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRectF,
    Qt,
    QVariantAnimation,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QMouseEvent, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGraphicsOpacityEffect,
    QLabel,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from pmdesk.ui.models.record_model import BadgeRole

PERIOD_MS = 2000
LOW = 0.7


class Pulse(QObject):
    """Opacity 1 -> 0.7 -> 1 every two seconds, forever; shared by every badge."""

    changed = Signal(float)
    _instance: Pulse | None = None

    def __init__(self) -> None:
        super().__init__()
        self.animation = QVariantAnimation(self)
        self.animation.setStartValue(1.0)
        self.animation.setKeyValueAt(0.5, LOW)
        self.animation.setEndValue(1.0)
        self.animation.setDuration(PERIOD_MS)
        self.animation.setLoopCount(-1)
        self.animation.setEasingCurve(QEasingCurve.Type.InOutSine)
        self.animation.valueChanged.connect(lambda v: self.changed.emit(float(v)))
        self.animation.start()

    @classmethod
    def shared(cls) -> Pulse:
        if cls._instance is None:
            cls._instance = Pulse()
        return cls._instance

    @property
    def opacity(self) -> float:
        value = self.animation.currentValue()
        return float(value) if value is not None else 1.0


class AwaitingBadge(QLabel):
    """``NEEDS RESPONSE``; its look comes from the QSS (also read by the delegate). A click on it
    (``clicked``) goes to the run that waits."""

    clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(self.tr("NEEDS RESPONSE"), parent)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(self.tr("Go to the run that needs a response (Ctrl+J)"))
        self._fill = QColor("#fef3c7")
        self._text = QColor("#92400e")
        self._radius = 9
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.effect = QGraphicsOpacityEffect(self)
        self.effect.setOpacity(1.0)
        self.setGraphicsEffect(self.effect)
        Pulse.shared().changed.connect(self._pulse)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mouseReleaseEvent(event)

    def _pulse(self, value: float) -> None:
        if self.isVisible():
            self.effect.setOpacity(value)

    def opacity(self) -> float:
        return self.effect.opacity()

    def _get_fill(self) -> QColor:
        return self._fill

    def _set_fill(self, color: QColor) -> None:
        self._fill = QColor(color)

    def _get_text(self) -> QColor:
        return self._text

    def _set_text(self, color: QColor) -> None:
        self._text = QColor(color)

    def _get_radius(self) -> int:
        return self._radius

    def _set_radius(self, value: int) -> None:
        self._radius = int(value)

    fillColor = Property(QColor, _get_fill, _set_fill)
    textColor = Property(QColor, _get_text, _set_text)
    radius = Property(int, _get_radius, _set_radius)


class BadgeDelegate(QStyledItemDelegate):
    """Paints the badge in cells whose BadgeRole is true, with the shared pulse's opacity."""

    def __init__(self, view: QAbstractItemView, column: int) -> None:
        super().__init__(view)
        self.view = view
        self.column = column
        self.style_source = AwaitingBadge(view)  # styled by QSS, never shown
        self.style_source.hide()
        self.style_source.ensurePolished()
        self._showing = False
        Pulse.shared().changed.connect(self._tick)

    def _tick(self, _value: float) -> None:
        if not self._showing or not self.view.isVisible():
            return
        model = self.view.model()
        if model is None or model.rowCount() == 0:
            return
        top = self.view.visualRect(model.index(0, self.column))
        rect = self.view.viewport().rect()
        rect.setLeft(top.left())
        rect.setWidth(self.view.visualRect(model.index(0, self.column)).width())
        self.view.viewport().update(rect)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        if not index.data(BadgeRole):
            super().paint(painter, option, index)
            return
        self._showing = True
        self.initStyleOption(option, index)
        style = self.view.style()
        option.text = ""
        style.drawControl(style.ControlElement.CE_ItemViewItem, option, painter, self.view)
        badge = self.style_source
        font = QFont(option.font)
        font.setBold(True)
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.8))
        text = badge.text()
        metrics = QFontMetrics(font)
        width = metrics.horizontalAdvance(text) + 16
        height = metrics.height() + 4
        rect = QRectF(option.rect.left() + 4, option.rect.center().y() - height / 2 + 1, width, height)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setOpacity(Pulse.shared().opacity)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(badge.fillColor)
        radius = float(badge.property("radius"))
        painter.drawRoundedRect(rect, radius, radius)
        painter.setPen(badge.textColor)
        painter.setFont(font)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()
