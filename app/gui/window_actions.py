"""The main window's actions (toolbar buttons, menu items, shortcuts), and where each is shown.

One table says each action's text, tooltip, shortcuts and icon; one layout per place (the File
menu, the queue toolbar, the queue's row menu) says which actions it shows, in groups between
separators, and `fill` puts any layout into a menu or a toolbar. The window hands in the slot of
each action and enables them from app.gui.presenters.actions.enabled_actions.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QStyle, QWidget

SP = QStyle.StandardPixmap
KEY = QKeySequence.StandardKey


@dataclass(frozen=True)
class ActionSpec:
    text: str
    tip: str
    shortcuts: tuple = ()                # QKeySequence.StandardKey or key strings
    icon: QStyle.StandardPixmap | None = None


# name -> what it looks like; the window's slots are keyed by the same names
SPECS: dict[str, ActionSpec] = {
    "add": ActionSpec("Add videos...", "Add video files to the queue", (KEY.Open,), SP.SP_DialogOpenButton),
    "add_folder": ActionSpec("Add folder...", "Add every video in a folder (and its subfolders)",
                             ("Ctrl+Shift+O",), SP.SP_DirOpenIcon),
    "remove": ActionSpec("Remove", "Remove the selected files from the queue", (KEY.Delete, "Backspace"),
                         SP.SP_TrashIcon),
    "up": ActionSpec("Move up", "Move the selected waiting file up", ("Ctrl+Up",), SP.SP_ArrowUp),
    "down": ActionSpec("Move down", "Move the selected waiting file down", ("Ctrl+Down",), SP.SP_ArrowDown),
    "start": ActionSpec("Start", "Process the waiting files", ("Ctrl+R", "Ctrl+Return"), SP.SP_MediaPlay),
    "cancel": ActionSpec("Cancel", "Stop processing now; the file being processed leaves no output (Esc asks first)",
                         (), SP.SP_MediaStop),
    # Esc asks before it stops anything: Esc is pressed to dismiss things (the quit question, a
    # menu, a completer), and a second Esc after one of those cancelled the running file unasked.
    "cancel_key": ActionSpec("Cancel...", "Ask, then stop processing", ("Esc",)),
    "open_output": ActionSpec("Open output folder", "Show the output folder of the selected (or last) file",
                              ("Ctrl+E",), SP.SP_DirLinkIcon),
    "retry": ActionSpec("Retry", "Queue the selected failed, cancelled or finished files again (the current "
                        "options apply, e.g. Replace existing outputs)", ("Ctrl+Shift+R",), SP.SP_BrowserReload),
    "choose_output": ActionSpec("Choose output folder...",
                                "Write all outputs into one folder instead of beside each input",
                                ("Ctrl+Shift+E",), SP.SP_DirIcon),
    "compare": ActionSpec("Compare this patient's visits", "One page with this patient's visits side by side (the "
                          "queue's finished files with the same patient ID, and earlier ones in their output folders)",
                          (), SP.SP_FileDialogDetailedView),
    "open_summary": ActionSpec("Open summary", "Open the visual summary of the selected finished file (Enter or "
                               "double-click in the queue)", (), SP.SP_FileDialogContentsView),
    "live": ActionSpec("Live exam...", "Examine with a camera: mirrored halves live, record, and the recording is "
                       "queued here", ("Ctrl+L",)),
    "quit": ActionSpec("Quit", "Quit FaceMirror (asks first while a file is processing)", (KEY.Quit, "Ctrl+Q")),
}

# where each action is shown: groups of action names, a separator between groups
FILE_MENU = (("add", "add_folder", "live"), ("open_summary", "open_output", "choose_output"), ("quit",))
QUEUE_TOOLBAR = (("add", "add_folder", "remove", "up", "down"), ("start", "cancel", "retry"), ("open_output",))
ROW_MENU = (("open_summary", "compare", "open_output"), ("retry", "remove"))


def key_bindings(shortcuts) -> tuple[list[QKeySequence], list[QKeySequence]]:
    """(every binding, without repeats; the main binding of each shortcut, for the tooltip)."""
    seqs: list[QKeySequence] = []
    shown: list[QKeySequence] = []
    for s in shortcuts:
        bindings = QKeySequence.keyBindings(s) if isinstance(s, QKeySequence.StandardKey) else [QKeySequence(s)]
        bindings = [b for b in bindings if not b.isEmpty() and all(b != o for o in seqs)]
        seqs.extend(bindings)
        shown.extend(bindings[:1])
    return seqs, shown


def make_action(window: QWidget, spec: ActionSpec, slot: Callable) -> QAction:
    """One of the window's actions: its shortcuts (each standard key's bindings) named in its tooltip."""
    a = QAction(spec.text, window)
    if spec.icon is not None:
        a.setIcon(window.style().standardIcon(spec.icon))
    seqs, shown = key_bindings(spec.shortcuts)
    tip = spec.tip
    if seqs:
        a.setShortcuts(seqs)
        tip += " (" + ", ".join(q.toString(QKeySequence.SequenceFormat.NativeText) for q in shown) + ")"
    a.setToolTip(tip)     # no status tip: hovering must not wipe a notice from the status bar
    a.triggered.connect(slot)
    window.addAction(a)   # shortcuts work wherever the focus is in the window
    return a


def fill(target, layout, actions: Mapping[str, QAction]) -> None:
    """Put a layout (FILE_MENU, QUEUE_TOOLBAR, ROW_MENU) into a QMenu or a QToolBar."""
    for i, group in enumerate(layout):
        if i:
            target.addSeparator()
        for name in group:
            target.addAction(actions[name])


class WindowActions:
    """The window's actions by name (``by_name``); ``slots``: what each does, by the same names."""

    def __init__(self, window: QWidget, slots: Mapping[str, Callable]):
        self.by_name: dict[str, QAction] = {name: make_action(window, spec, slots[name]) for name, spec in SPECS.items()}
        self.by_name["quit"].setMenuRole(QAction.MenuRole.QuitRole)

    def __getitem__(self, name: str) -> QAction:
        return self.by_name[name]

    def fill(self, target, layout) -> None:
        fill(target, layout, self.by_name)
