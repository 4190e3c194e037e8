"""The queue panel: the table of queued videos, its keyboard and mouse bindings, the row menu
(right-click, Shift+F10, the Menu key), and the line under it with the full status of the selected
row. It owns these widgets; the window places them (the table in the splitter, the line under it),
hands in the row menu's actions and what opening a row does, and follows ``selection_changed``.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QContextMenuEvent, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QMenu, QTableView, QWidget

from app.batch.job_queue.jobs import RETRYABLE, Job, Status
from app.gui.compare_visits import patient_of
from app.gui.presenters import actions
from app.gui.queue_model import (COL_DURATION, COL_FILE, COL_OUTPUT, COL_PROGRESS, COL_STATUS, ProgressDelegate,
                                 QueueModel, StatusDelegate)
from app.gui.window_actions import ROW_MENU, WindowActions

QUEUE_ROWS_SHOWN = 8        # queue rows always visible (issue 20: ~4 showed at 1280 x 800)


def summary_of(job: Job | None) -> Path | None:
    """The visual summary (NAME_summary.html) of a finished row, if it is there."""
    summary = (job.outputs or {}).get("summary") if job is not None and job.status == Status.DONE else None
    return Path(summary) if summary is not None and Path(summary).is_file() else None


class QueuePanel(QObject):
    """``open_row()``: what a double-click or Enter does (the selected row's summary or folder);
    ``relayout()``: called when the details line appears or goes (the window keeps the queue's rows)."""
    selection_changed = Signal()

    def __init__(self, model: QueueModel, parent: QWidget, actions: WindowActions, *,
                 open_row: Callable[[], None], relayout: Callable[[], None]):
        super().__init__(parent)
        self.model, self._actions, self._relayout = model, actions, relayout
        self.table = QTableView(parent)
        self._build_table()
        self._bind_table(open_row)
        self.details_label = self._details(parent)

    def _build_table(self) -> None:
        table = self.table
        table.setModel(self.model)
        table.setAccessibleName("Queue of videos")
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setAlternatingRowColors(True)
        table.setWordWrap(False)
        table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        table.setAcceptDrops(False)
        table.viewport().setAcceptDrops(False)
        table.setItemDelegateForColumn(COL_PROGRESS, ProgressDelegate(table))
        table.setItemDelegateForColumn(COL_STATUS, StatusDelegate(table))
        table.verticalHeader().setVisible(False)
        # compact rows, and room for QUEUE_ROWS_SHOWN of them where the window is tall enough
        # (1280 x 800 is): the previews give way until the user moves the splitter (the window)
        row_h = table.fontMetrics().height() + 8
        table.verticalHeader().setDefaultSectionSize(row_h)
        table.verticalHeader().setMinimumSectionSize(row_h)
        self.rows_height = (table.horizontalHeader().sizeHint().height()
                            + int((QUEUE_ROWS_SHOWN + 0.5) * row_h) + 2 * table.frameWidth())
        header = table.horizontalHeader()
        for column, mode in ((COL_FILE, QHeaderView.ResizeMode.Stretch),
                             (COL_DURATION, QHeaderView.ResizeMode.ResizeToContents),
                             (COL_STATUS, QHeaderView.ResizeMode.Stretch),
                             (COL_PROGRESS, QHeaderView.ResizeMode.Interactive),
                             (COL_OUTPUT, QHeaderView.ResizeMode.Stretch)):
            header.setSectionResizeMode(column, mode)
        header.resizeSection(COL_PROGRESS, 9 * table.fontMetrics().height())

    def _bind_table(self, open_row: Callable[[], None]) -> None:
        """Selection, double-click and Enter, the row menu (right-click, Shift+F10, the Menu key)."""
        table = self.table
        table.selectionModel().selectionChanged.connect(lambda *_a: self.selection_changed.emit())
        table.doubleClicked.connect(lambda _i: open_row())
        # Enter in the queue does what a double-click does; only there (combo boxes keep their Enter)
        self._table_shortcut("Open summary or folder", [QKeySequence("Return"), QKeySequence("Enter")], open_row)
        # the row menu from the keyboard, as right-click opens it: Shift+F10 (no platform here turns
        # it into a context-menu event) and the Menu key (Qt's keyboard context-menu event, which
        # otherwise opened at the mouse pointer's place, or nowhere)
        self._table_shortcut("Row menu", [QKeySequence("Shift+F10")], self.show_row_menu_from_keyboard)
        table.installEventFilter(self)
        table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        table.customContextMenuRequested.connect(self.show_row_menu)
        table.setToolTip("Drop video files or folders anywhere on the window to add them. A finished "
                         "file: double-click or Enter opens its summary; right-click for more")

    def _table_shortcut(self, text: str, keys: list[QKeySequence], slot: Callable[[], None]) -> None:
        action = QAction(text, self.table)
        action.setShortcuts(keys)
        action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        action.triggered.connect(slot)
        self.table.addAction(action)

    def _details(self, parent: QWidget) -> QLabel:
        label = QLabel(parent)     # the selected row's full status: nothing cut
        label.setObjectName("statusDetails")
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        label.setAccessibleName("Status of the selected file")
        label.hide()
        self.model.dataChanged.connect(lambda *_a: self.show_details())
        return label

    # =========================================================================================
    def selected_rows(self) -> list[int]:
        return sorted({i.row() for i in self.table.selectionModel().selectedRows()})

    def selected_job(self):
        """The selected row's job when exactly one row is selected, else None."""
        rows = self.selected_rows()
        return self.model.job_at(rows[0]) if len(rows) == 1 else None

    def selection(self) -> actions.Selection:
        """What the window's actions need to know of the selected rows (presenters.actions)."""
        rows = self.selected_rows()
        single = len(rows) == 1
        job = self.model.job_at(rows[0]) if single else None
        return actions.Selection(statuses=tuple(self.model.job_at(r).status for r in rows),
                                 can_move_up=single and self.model.can_move(rows[0], -1),
                                 can_move_down=single and self.model.can_move(rows[0], 1),
                                 has_summary=summary_of(job) is not None, has_patient=patient_of(job) is not None)

    def show_details(self) -> None:
        """One line under the queue with the full status of the selected row (the cell cuts it)."""
        job = self.selected_job()
        text = job.status_tooltip if job is not None and job.status in RETRYABLE else ""   # reasons to read
        self.details_label.setText(f"{self.model.label(job)}: {text}" if text else "")
        if self.details_label.isVisible() != bool(text):
            self.details_label.setVisible(bool(text))
            QTimer.singleShot(0, self._relayout)     # the queue keeps its rows after the relayout

    def row_menu(self) -> QMenu:
        menu = QMenu(self.table)
        self._actions.fill(menu, ROW_MENU)
        return menu

    def show_row_menu(self, pos) -> None:
        menu = self.row_menu()
        menu.exec(self.table.viewport().mapToGlobal(pos))
        menu.deleteLater()

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt API
        if (obj is self.table and event.type() == QEvent.Type.ContextMenu
                and event.reason() == QContextMenuEvent.Reason.Keyboard):
            self.show_row_menu_from_keyboard()
            return True
        return super().eventFilter(obj, event)

    def show_row_menu_from_keyboard(self) -> None:
        """Shift+F10 or the Menu key: the menu of the current row, opened at that row."""
        index = self.table.currentIndex()
        rows = self.selected_rows()
        if rows and (not index.isValid() or index.row() not in rows):
            index = self.model.index(rows[0], COL_FILE)
        rect = self.table.visualRect(index) if index.isValid() else None
        self.show_row_menu(rect.bottomLeft() if rect is not None and rect.isValid()
                           else self.table.viewport().rect().topLeft())
