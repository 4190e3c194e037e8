"""The main window's actions (toolbar buttons, menu items, shortcuts) and its File menu.

Built here so the window only wires them: each action calls a slot of the window, and the window
enables them from app.gui.presenters.actions.enabled_actions.
"""
from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QStyle


def make_action(window, text: str, tip: str, shortcuts, slot, icon=None) -> QAction:
    """One of the window's actions: its shortcuts (each standard key's bindings) named in its tooltip."""
    a = QAction(text, window)
    if icon is not None:
        a.setIcon(window.style().standardIcon(icon))
    seqs: list[QKeySequence] = []
    shown: list[QKeySequence] = []     # the tooltip names the main binding of each shortcut
    for s in shortcuts or []:
        bindings = QKeySequence.keyBindings(s) if isinstance(s, QKeySequence.StandardKey) else [QKeySequence(s)]
        bindings = [b for b in bindings if not b.isEmpty() and all(b != o for o in seqs)]
        seqs.extend(bindings)
        shown.extend(bindings[:1])
    if seqs:
        a.setShortcuts(seqs)
        keys = ", ".join(q.toString(QKeySequence.SequenceFormat.NativeText) for q in shown)
        tip = f"{tip} ({keys})"
    a.setToolTip(tip)     # no status tip: hovering must not wipe a notice from the status bar
    a.triggered.connect(slot)
    window.addAction(a)   # shortcuts work wherever the focus is in the window
    return a


def install_actions(window) -> None:
    """The window's actions, as attributes of the window (its toolbars, menus and tests use them)."""
    SP = QStyle.StandardPixmap
    window.add_action = make_action(window, "Add videos...", "Add video files to the queue",
                                   [QKeySequence.StandardKey.Open], window.add_videos_dialog, SP.SP_DialogOpenButton)
    window.add_folder_action = make_action(window, "Add folder...", "Add every video in a folder (and its subfolders)",
                                          ["Ctrl+Shift+O"], window.add_folder_dialog, SP.SP_DirOpenIcon)
    window.remove_action = make_action(window, "Remove", "Remove the selected files from the queue",
                                      [QKeySequence.StandardKey.Delete, "Backspace"], window.remove_selected,
                                      SP.SP_TrashIcon)
    window.up_action = make_action(window, "Move up", "Move the selected waiting file up", ["Ctrl+Up"],
                                  lambda: window.move_selected(-1), SP.SP_ArrowUp)
    window.down_action = make_action(window, "Move down", "Move the selected waiting file down", ["Ctrl+Down"],
                                    lambda: window.move_selected(1), SP.SP_ArrowDown)
    window.start_action = make_action(window, "Start", "Process the waiting files", ["Ctrl+R", "Ctrl+Return"],
                                     window.start, SP.SP_MediaPlay)
    window.cancel_action = make_action(window, "Cancel", "Stop processing now; the file being processed leaves no "
                                      "output (Esc asks first)", [], window.cancel, SP.SP_MediaStop)
    # Esc asks before it stops anything: Esc is pressed to dismiss things (the quit question, a
    # menu, a completer), and a second Esc after one of those cancelled the running file unasked.
    window.cancel_key_action = make_action(window, "Cancel...", "Ask, then stop processing", ["Esc"], window.cancel_asked)
    window.open_output_action = make_action(window, "Open output folder",
                                           "Show the output folder of the selected (or last) file",
                                           ["Ctrl+E"], window.open_output_folder, SP.SP_DirLinkIcon)
    window.retry_action = make_action(window, "Retry", "Queue the selected failed, cancelled or finished files again "
                                     "(the current options apply, e.g. Replace existing outputs)",
                                     ["Ctrl+Shift+R"], window.retry_selected, SP.SP_BrowserReload)
    window.choose_output_action = make_action(window, "Choose output folder...",
                                             "Write all outputs into one folder instead of beside each input",
                                             ["Ctrl+Shift+E"], window.choose_output_folder, SP.SP_DirIcon)
    window.compare_action = make_action(
        window,
        "Compare this patient's visits", "One page with this patient's visits side by side (the queue's "
        "finished files with the same patient ID, and earlier ones in their output folders)", [],
        window.compare_visits, SP.SP_FileDialogDetailedView)
    window.open_summary_action = make_action(window, "Open summary",
                                            "Open the visual summary of the selected finished file "
                                            "(Enter or double-click in the queue)",
                                            [], window.open_summary, SP.SP_FileDialogContentsView)
    window.live_action = make_action(window, "Live exam...", "Examine with a camera: mirrored halves live, record, "
                                    "and the recording is queued here", ["Ctrl+L"], window.open_live_exam)
    window.quit_action = make_action(window, "Quit", "Quit FaceMirror (asks first while a file is processing)",
                                    [QKeySequence.StandardKey.Quit, "Ctrl+Q"], window.close)
    window.quit_action.setMenuRole(QAction.MenuRole.QuitRole)


def install_file_menu(window) -> None:
    menu = window.menuBar().addMenu("&File")
    for a in (window.add_action, window.add_folder_action, window.live_action):
        menu.addAction(a)
    menu.addSeparator()
    for a in (window.open_summary_action, window.open_output_action, window.choose_output_action):
        menu.addAction(a)
    menu.addSeparator()
    menu.addAction(window.quit_action)
    window.file_menu = menu
