"""The queue panel: the table of queued videos, its keyboard and mouse bindings, and the line
under it with the full status of the selected row. The window owns the model and the slots; this
builds the widgets and wires them to the window.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableView

from app.gui.queue_model import COL_DURATION, COL_FILE, COL_OUTPUT, COL_PROGRESS, COL_STATUS, ProgressDelegate, StatusDelegate

QUEUE_ROWS_SHOWN = 8        # queue rows always visible (issue 20: ~4 showed at 1280 x 800)


def build_queue_table(window, central) -> None:
    """The queue's table (window.table) and the full status of the selected row under it (window.details_label)."""
    window.table = QTableView(central)
    window.table.setModel(window.model)
    window.table.setAccessibleName("Queue of videos")
    window.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    window.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    window.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    window.table.setAlternatingRowColors(True)
    window.table.setWordWrap(False)
    window.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
    window.table.setAcceptDrops(False)
    window.table.viewport().setAcceptDrops(False)
    window.table.setItemDelegateForColumn(COL_PROGRESS, ProgressDelegate(window.table))
    window.table.setItemDelegateForColumn(COL_STATUS, StatusDelegate(window.table))
    window.table.verticalHeader().setVisible(False)
    # compact rows, and room for QUEUE_ROWS_SHOWN of them where the window is tall enough
    # (1280 x 800 is): the previews give way until the user moves the splitter (_fit_queue_rows)
    row_h = window.fontMetrics().height() + 8
    window.table.verticalHeader().setDefaultSectionSize(row_h)
    window.table.verticalHeader().setMinimumSectionSize(row_h)
    window._rows_height = (window.table.horizontalHeader().sizeHint().height()
                         + int((QUEUE_ROWS_SHOWN + 0.5) * row_h) + 2 * window.table.frameWidth())
    header = window.table.horizontalHeader()
    header.setSectionResizeMode(COL_FILE, QHeaderView.ResizeMode.Stretch)
    header.setSectionResizeMode(COL_DURATION, QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(COL_STATUS, QHeaderView.ResizeMode.Stretch)
    header.setSectionResizeMode(COL_PROGRESS, QHeaderView.ResizeMode.Interactive)
    header.setSectionResizeMode(COL_OUTPUT, QHeaderView.ResizeMode.Stretch)
    header.resizeSection(COL_PROGRESS, 9 * window.fontMetrics().height())
    _bind_table(window)
    _build_details(window, central)


def _bind_table(window) -> None:
    """Selection, double-click and Enter, the row menu (right-click, Shift+F10, the Menu key)."""
    window.table.selectionModel().selectionChanged.connect(window._update_actions)
    window.table.doubleClicked.connect(lambda _i: window.open_summary_or_folder())
    # Enter in the queue does what a double-click does; only there (combo boxes keep their Enter)
    enter = QAction("Open summary or folder", window.table)
    enter.setShortcuts([QKeySequence("Return"), QKeySequence("Enter")])
    enter.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
    enter.triggered.connect(window.open_summary_or_folder)
    window.table.addAction(enter)
    # the row menu from the keyboard, as right-click opens it: Shift+F10 (no platform here turns
    # it into a context-menu event) and the Menu key (Qt's keyboard context-menu event, which
    # otherwise opened at the mouse pointer's place, or nowhere)
    menu_key = QAction("Row menu", window.table)
    menu_key.setShortcut(QKeySequence("Shift+F10"))
    menu_key.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
    menu_key.triggered.connect(window._show_row_menu_from_keyboard)
    window.table.addAction(menu_key)
    window.table.installEventFilter(window)
    window.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
    window.table.customContextMenuRequested.connect(window._show_row_menu)
    window.table.setToolTip("Drop video files or folders anywhere on the window to add them. A finished "
                          "file: double-click or Enter opens its summary; right-click for more")


def _build_details(window, central) -> None:
    window.details_label = QLabel(central)     # the selected row's full status: nothing cut
    window.details_label.setObjectName("statusDetails")
    window.details_label.setWordWrap(True)
    window.details_label.setTextFormat(Qt.TextFormat.PlainText)
    window.details_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    window.details_label.setAccessibleName("Status of the selected file")
    window.details_label.hide()
    window.model.dataChanged.connect(lambda *_a: window._show_details())
