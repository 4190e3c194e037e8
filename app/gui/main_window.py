"""FaceMirror main window (PySide6 only; no engine logic here).

What it holds: the models banner (missing models, warnings, conversion), three live previews, the
throughput line, the queue table, two toolbars (queue actions; output folder and midline) and the
status bar (backend, landmark model warning, version).

Threads, all in one style (gui.background.BackgroundThread: a worker QObject in its own QThread,
requests through queued signals): the PipelineWorker loads the models (Models.load) and runs the
pipeline for one queued file at a time, cancelled through a threading.Event per file. The queue's
state (jobs, what runs next, stop, the batch's counts, notices and summary) is app.batch.job_queue's
JobQueue: the window shows it and forwards the user's actions. A
DurationProber reads the durations of added files; a model conversion runs in its own
(model_convert.Conversion). Previews are polled from the worker on a timer. Closing the window
while a file is processing asks "Stop processing and quit?"; quitting cancels the running file,
stops the threads in a fixed order (see background.py) and leaves no partial output.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QItemSelectionModel, QSettings, QSize, Qt, QThread, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QContextMenuEvent, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QApplication, QCheckBox, QComboBox, QFileDialog,
                               QHeaderView, QLabel, QMainWindow, QMenu, QMessageBox, QSplitter, QStyle, QTableView,
                               QToolBar, QVBoxLayout, QWidget)

from app import __version__, APP_NAME

from app.base import build_info, logs, notices
from app.engine.midline import DEFAULT_METHOD, FALLBACK_CHOICE_REASON, METHOD_LABELS, METHOD_TIPS
from app.gui import file_open, safe_question
from app.gui.open_failure import open_or_explain
from app.gui.status_line import NoticeLabel, StatusLine
from app.gui.background import BackgroundThread
from app.gui import model_status as status_info
from app.batch.job_queue.jobs import Job, Status
from app.gui.jobs import collect_videos, queue_eta, refused_message
from app.gui.model_convert import Conversion
from app.gui.model_status import (ModelStatus, SHORT_NAME, checkpoint_names, conversion_target_dir,
                                  converter_missing_hint, model_filename, scan_model_files)
from app.gui.models_panel import ModelsPanel
from app.engine.midline import MIDLINE_METHODS
from app.gui.prefs import Prefs
from app.gui.preview import PreviewStrip
from app.gui.queue_model import (COL_DURATION, COL_FILE, COL_OUTPUT, COL_PROGRESS, COL_STATUS,
                                 DurationProber, ProbeRequest, ProgressDelegate, Probed, QueueModel,
                                 StatusDelegate)
from app.gui.help_menu import install_help_menu
from app.gui.compare_visits import COMPARE_FOLDER, CompareWorker, folders_for, patient_of
from app.gui.subject_fields import SubjectFields
from app.gui.symmetry_trace import SymmetryTrace
from app.gui.throughput import ThroughputPanel
from app.gui.worker import JobFinished, JobProgress, PipelineWorker, ProcessRequest
from app.batch.job_queue.queue import JobQueue, Notice, QueueState
from app.batch.job_queue.jobs import RETRYABLE
from app.base.outputs import VIDEO_EXTENSIONS
from app.pipeline.run import Settings

MESSAGE_MS = 12000
PREVIEW_MAX_SIDE = 480      # pixels of the previews made by the pipeline (downscaled there)
PREVIEW_FPS = 20.0          # preview updates per second at most
QUEUE_ROWS_SHOWN = 8        # queue rows always visible (issue 20: ~4 showed at 1280 x 800)
MIDLINE_LABELS = METHOD_LABELS     # the names live in app.engine.midline
MIDLINE_TIPS = METHOD_TIPS
MIDLINE_TOOLTIP = "How the facial midline is defined from the 98 STAR landmarks"


class MainWindow(QMainWindow):
    # requests to the worker (queued to its thread)
    _request_load = Signal()
    _request_process = Signal(object)     # worker.ProcessRequest
    _request_probe = Signal(object)       # queue_model.ProbeRequest
    _request_compare = Signal(object, object, str)
    # for observers (tests, accessibility tools)
    models_changed = Signal(object)
    queue_finished = Signal(str)

    def __init__(self, status: ModelStatus | None = None, *, threads: int | None = None,
                 settings: QSettings | None = None):
        """`settings`: where choices are remembered (default: the user's FaceMirror settings);
        a self-test can pass QSettings(path, QSettings.IniFormat) to leave the user's alone."""
        super().__init__()
        title = f"{APP_NAME} {__version__}"
        # Qt appends the application's display name to any title that does not end with it
        # ("FaceMirror 0.1.0 - FaceMirror"): make the title that name
        QApplication.instance().setApplicationDisplayName(title)
        self.setWindowTitle(title)
        self.setAcceptDrops(True)
        self.prefs = Prefs(settings)
        self.model_status = status or scan_model_files()
        self.models_known = False          # a load attempt has finished
        self._comparing = False            # a compare page is being made (gui.compare_visits)
        self._conversion: Conversion | None = None
        self._close_after_conversion = False
        self._confirm_box: QMessageBox | None = None   # "Stop processing and quit?" while it is asked
        self._cancel_box: QMessageBox | None = None    # "Stop processing?" (Esc) while it is asked
        self._last_output_dir: Path | None = None

        self._build_actions()
        self._build_ui()
        self._build_file_menu()
        install_help_menu(self, backend_text=lambda: self.backend_label.text(), notify=self.message,
                          open_path=self._open_path)
        self._restore_prefs()
        self._show_model_status(self.model_status)
        self._start_worker(threads)
        self._file_open = file_open.install(QApplication.instance())
        self._file_open.attach(self.add_paths)
        QApplication.instance().aboutToQuit.connect(self.shutdown)
        self._update_actions()

    # =========================================================================================
    # building
    def _action(self, text: str, tip: str, shortcuts, slot, icon=None) -> QAction:
        a = QAction(text, self)
        if icon is not None:
            a.setIcon(self.style().standardIcon(icon))
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
        self.addAction(a)   # shortcuts work wherever the focus is in the window
        return a

    def _build_actions(self) -> None:
        SP = QStyle.StandardPixmap
        self.add_action = self._action("Add videos...", "Add video files to the queue",
                                       [QKeySequence.StandardKey.Open], self.add_videos_dialog, SP.SP_DialogOpenButton)
        self.add_folder_action = self._action("Add folder...", "Add every video in a folder (and its subfolders)",
                                              ["Ctrl+Shift+O"], self.add_folder_dialog, SP.SP_DirOpenIcon)
        self.remove_action = self._action("Remove", "Remove the selected files from the queue",
                                          [QKeySequence.StandardKey.Delete, "Backspace"], self.remove_selected,
                                          SP.SP_TrashIcon)
        self.up_action = self._action("Move up", "Move the selected waiting file up", ["Ctrl+Up"],
                                      lambda: self.move_selected(-1), SP.SP_ArrowUp)
        self.down_action = self._action("Move down", "Move the selected waiting file down", ["Ctrl+Down"],
                                        lambda: self.move_selected(1), SP.SP_ArrowDown)
        self.start_action = self._action("Start", "Process the waiting files", ["Ctrl+R", "Ctrl+Return"],
                                         self.start, SP.SP_MediaPlay)
        self.cancel_action = self._action("Cancel", "Stop processing now; the file being processed leaves no "
                                          "output (Esc asks first)", [], self.cancel, SP.SP_MediaStop)
        # Esc asks before it stops anything: Esc is pressed to dismiss things (the quit question, a
        # menu, a completer), and a second Esc after one of those cancelled the running file unasked.
        self.cancel_key_action = self._action("Cancel...", "Ask, then stop processing", ["Esc"], self.cancel_asked)
        self.open_output_action = self._action("Open output folder",
                                               "Show the output folder of the selected (or last) file",
                                               ["Ctrl+E"], self.open_output_folder, SP.SP_DirLinkIcon)
        self.retry_action = self._action("Retry", "Queue the selected failed, cancelled or finished files again "
                                         "(the current options apply, e.g. Replace existing outputs)",
                                         ["Ctrl+Shift+R"], self.retry_selected, SP.SP_BrowserReload)
        self.choose_output_action = self._action("Choose output folder...",
                                                 "Write all outputs into one folder instead of beside each input",
                                                 ["Ctrl+Shift+E"], self.choose_output_folder, SP.SP_DirIcon)
        self.compare_action = self._action(
            "Compare this patient's visits", "One page with this patient's visits side by side (the queue's "
            "finished files with the same patient ID, and earlier ones in their output folders)", [],
            self.compare_visits, SP.SP_FileDialogDetailedView)
        self.open_summary_action = self._action("Open summary",
                                                "Open the visual summary of the selected finished file "
                                                "(Enter or double-click in the queue)",
                                                [], self.open_summary, SP.SP_FileDialogContentsView)
        self.live_action = self._action("Live exam...", "Examine with a camera: mirrored halves live, record, "
                                        "and the recording is queued here", ["Ctrl+L"], self.open_live_exam)
        self.quit_action = self._action("Quit", "Quit FaceMirror (asks first while a file is processing)",
                                        [QKeySequence.StandardKey.Quit, "Ctrl+Q"], self.close)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)

    def _build_file_menu(self) -> None:
        menu = self.menuBar().addMenu("&File")
        for a in (self.add_action, self.add_folder_action, self.live_action):
            menu.addAction(a)
        menu.addSeparator()
        for a in (self.open_summary_action, self.open_output_action, self.choose_output_action):
            menu.addAction(a)
        menu.addSeparator()
        menu.addAction(self.quit_action)
        self.file_menu = menu

    def _build_ui(self) -> None:
        self._build_toolbars()
        self._build_central()

    def _build_toolbars(self) -> None:
        tb = QToolBar("Queue", self)
        tb.setObjectName("queueToolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for a in (self.add_action, self.add_folder_action, self.remove_action, self.up_action, self.down_action):
            tb.addAction(a)
        tb.addSeparator()
        for a in (self.start_action, self.cancel_action, self.retry_action):
            tb.addAction(a)
        tb.addSeparator()
        tb.addAction(self.open_output_action)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, tb)
        self.addToolBarBreak()

        ob = QToolBar("Options", self)
        ob.setObjectName("optionsToolbar")
        ob.setMovable(False)
        ob.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        ob.addWidget(QLabel(" Output: ", ob))
        self.output_combo = QComboBox(ob)
        self.output_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.output_combo.setMinimumContentsLength(24)
        # a long chosen folder must not push "Replace existing outputs" out of a 1024 px window
        # (the full path is in the item's tooltip and in the Output folder column)
        self.output_combo.setMaximumWidth(36 * self.fontMetrics().averageCharWidth() + 40)
        self.output_combo.setToolTip("Where the output files of each video (videos, CSV, report, measures, "
                                     "summary) are written")
        self.output_combo.setAccessibleName("Output folder")
        self.output_combo.addItem("Beside each input video", None)
        ob.addWidget(self.output_combo)
        ob.addAction(self.choose_output_action)
        # beside the output choice, not last: at 1024 px the toolbar's last items go into its
        # overflow menu, and a failure's message tells the user to tick this box
        self.overwrite_box = QCheckBox("Replace existing outputs", ob)
        self.overwrite_box.setToolTip("Off: a file whose outputs already exist fails and nothing is changed")
        self.overwrite_box.setAccessibleName("Replace existing outputs")
        ob.addWidget(self.overwrite_box)
        ob.addSeparator()
        ob.addWidget(QLabel(" Midline: ", ob))
        self.midline_combo = QComboBox(ob)
        self.midline_combo.setAccessibleName("Midline method")
        for i, m in enumerate(MIDLINE_METHODS):
            self.midline_combo.addItem(MIDLINE_LABELS[m], m)
            self.midline_combo.setItemData(i, MIDLINE_TIPS[m], Qt.ItemDataRole.ToolTipRole)
        self.midline_combo.setToolTip(MIDLINE_TOOLTIP)
        self.midline_combo_action = ob.addWidget(self.midline_combo)
        self.midline_note = QLabel(" eye-centre bisector (5-point mode) ", ob)
        self.midline_note.setToolTip(FALLBACK_CHOICE_REASON)
        self.midline_note_action = ob.addWidget(self.midline_note)
        self.midline_note_action.setVisible(False)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, ob)
        # its own bar: beside the output options the fields were squeezed to a few letters
        self.addToolBarBreak()
        sb = QToolBar("Patient and visit", self)
        sb.setObjectName("subject_toolbar")
        self.subject_fields = SubjectFields(self.prefs.s, sb, with_opt_in=True)
        sb.addWidget(self.subject_fields)
        sb.addWidget(QLabel("  (for the videos you add next, then emptied; shown in their report and summary)", sb))
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, sb)

    def _build_central(self) -> None:
        central = QWidget(self)
        layout = QVBoxLayout(central)
        self.models_panel = ModelsPanel(central)
        self.models_panel.convert_requested.connect(self.convert_model)
        self.models_label = self.models_panel.label
        layout.addWidget(self.models_panel)

        top = QWidget(central)
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        self.preview = PreviewStrip(top)
        self.throughput = ThroughputPanel(top)
        top_layout.addWidget(self.preview, 1)
        self.trace = SymmetryTrace(top)
        self.trace.setToolTip("Patient's right (blue) and left (orange) movement of the most active region, "
                              "live; the finished summary has every measure")
        top_layout.addWidget(self.trace)
        top_layout.addWidget(self.throughput)

        self.model = QueueModel(self)
        self.table = QTableView(central)
        self.table.setModel(self.model)
        self.table.setAccessibleName("Queue of videos")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setAcceptDrops(False)
        self.table.viewport().setAcceptDrops(False)
        self.table.setItemDelegateForColumn(COL_PROGRESS, ProgressDelegate(self.table))
        self.table.setItemDelegateForColumn(COL_STATUS, StatusDelegate(self.table))
        self.table.verticalHeader().setVisible(False)
        # compact rows, and room for QUEUE_ROWS_SHOWN of them where the window is tall enough
        # (1280 x 800 is): the previews give way until the user moves the splitter (_fit_queue_rows)
        row_h = self.fontMetrics().height() + 8
        self.table.verticalHeader().setDefaultSectionSize(row_h)
        self.table.verticalHeader().setMinimumSectionSize(row_h)
        self._rows_height = (self.table.horizontalHeader().sizeHint().height()
                             + int((QUEUE_ROWS_SHOWN + 0.5) * row_h) + 2 * self.table.frameWidth())
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(COL_FILE, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COL_DURATION, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_STATUS, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COL_PROGRESS, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(COL_OUTPUT, QHeaderView.ResizeMode.Stretch)
        header.resizeSection(COL_PROGRESS, 9 * self.fontMetrics().height())
        self.table.selectionModel().selectionChanged.connect(self._update_actions)
        self.table.doubleClicked.connect(lambda _i: self.open_summary_or_folder())
        # Enter in the queue does what a double-click does; only there (combo boxes keep their Enter)
        enter = QAction("Open summary or folder", self.table)
        enter.setShortcuts([QKeySequence("Return"), QKeySequence("Enter")])
        enter.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        enter.triggered.connect(self.open_summary_or_folder)
        self.table.addAction(enter)
        # the row menu from the keyboard, as right-click opens it: Shift+F10 (no platform here turns
        # it into a context-menu event) and the Menu key (Qt's keyboard context-menu event, which
        # otherwise opened at the mouse pointer's place, or nowhere)
        menu_key = QAction("Row menu", self.table)
        menu_key.setShortcut(QKeySequence("Shift+F10"))
        menu_key.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        menu_key.triggered.connect(self._show_row_menu_from_keyboard)
        self.table.addAction(menu_key)
        self.table.installEventFilter(self)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._show_row_menu)
        self.table.setToolTip("Drop video files or folders anywhere on the window to add them. A finished "
                              "file: double-click or Enter opens its summary; right-click for more")
        self.details_label = QLabel(central)     # the selected row's full status: nothing cut
        self.details_label.setObjectName("statusDetails")
        self.details_label.setWordWrap(True)
        self.details_label.setTextFormat(Qt.TextFormat.PlainText)
        self.details_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_label.setAccessibleName("Status of the selected file")
        self.details_label.hide()
        self.model.dataChanged.connect(lambda *_a: self._show_details())

        self.splitter = QSplitter(Qt.Orientation.Vertical, central)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(top)
        self.splitter.addWidget(self.table)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.details_label)
        self.setCentralWidget(central)

        # elided at whole words when the window is narrow (the tooltip explains; the notice needs room)
        self.backend_label = NoticeLabel(self, own_tooltip=True, min_width=12 * self.fontMetrics().height())
        self.backend_label.setToolTip("What runs the models (ONNX Runtime execution provider) and which landmark model is loaded")
        self.warning_label = QLabel(self)
        self.warning_label.setStyleSheet("QLabel { color: #b35c00; font-weight: bold; }")
        note = build_info.build_note()  # "detector-only build" when built without STAR on purpose
        self.version_label = QLabel(f"{APP_NAME} {__version__}" + (f" - {note}" if note else ""), self)
        self.setStatusBar(StatusLine(self))      # notices elided at whole words, full text in the tooltip
        sb = self.statusBar()
        sb.addPermanentWidget(self.backend_label)
        sb.addPermanentWidget(self.warning_label)
        sb.addPermanentWidget(self.version_label)

        comparer = CompareWorker()
        self._comparer = BackgroundThread(comparer, "facemirror-compare", self)
        self._request_compare.connect(comparer.compare)
        comparer.done.connect(self._on_compared)
        self._comparer.start()

        prober = DurationProber()
        self._prober = BackgroundThread(prober, "facemirror-probe", self)
        self._request_probe.connect(prober.probe)
        prober.probed.connect(self._on_probed)
        self._prober.start()
        self._preview_timer = QTimer(self)
        self._preview_timer.setInterval(max(10, int(1000 / PREVIEW_FPS)))
        self._preview_timer.timeout.connect(self._poll_preview)
        self.output_combo.currentIndexChanged.connect(self._output_choice_changed)
        self.midline_combo.currentIndexChanged.connect(self._midline_changed)

    def _restore_prefs(self) -> None:
        geometry = self.prefs.geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(self._default_size())
        splitter = self.prefs.splitter()
        self._fit_rows = splitter is None or not self.splitter.restoreState(splitter)
        self.splitter.splitterMoved.connect(self._user_moved_splitter)
        folder = self.prefs.last_output_folder
        if folder is not None and Path(folder).is_dir():
            self.output_combo.addItem(str(folder), str(folder))
            self.output_combo.setItemData(1, str(folder), Qt.ItemDataRole.ToolTipRole)
        elif folder is not None:   # deleted or unmounted: never recreated behind the user's back
            self.prefs.output_folder = None
            self._missing_folder_note = (f"The remembered output folder {folder} no longer exists: outputs go "
                                         "beside each input video until you choose an output folder")
        if self.prefs.output_folder is not None and self.output_combo.count() > 1:
            self.output_combo.setCurrentIndex(1)
        self.model.set_default_out_dir(self.output_folder)
        self.midline_combo.setCurrentIndex(max(0, MIDLINE_METHODS.index(self.prefs.midline)))

    def _user_moved_splitter(self, *_args) -> None:
        self._fit_rows = False

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._fit_queue_rows()

    def _fit_queue_rows(self) -> None:
        """Without a remembered layout, give the queue room for QUEUE_ROWS_SHOWN rows when the
        previews can spare it (a small screen keeps the split as it is)."""
        if not getattr(self, "_fit_rows", False):
            return
        top, table = self.splitter.sizes()
        total = top + table
        spare = total - self.splitter.widget(0).minimumSizeHint().height()
        want = min(self._rows_height, spare)
        if table < want:
            self.splitter.setSizes([total - want, want])

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        note = getattr(self, "_missing_folder_note", None)
        if note:
            self._missing_folder_note = None
            self.message(note, 30000)

    def _default_size(self) -> QSize:
        """1280 x 800, or less on a smaller screen."""
        size = QSize(1280, 800)
        screen = self.screen() or QApplication.primaryScreen()
        if screen is not None:
            avail = screen.availableGeometry().size()
            if avail.width() >= 640 and avail.height() >= 480:
                size = size.boundedTo(QSize(int(avail.width() * 0.95), int(avail.height() * 0.9)))
        return size

    def _start_worker(self, threads: int | None) -> None:
        self._worker = PipelineWorker(threads)
        self._background = BackgroundThread(self._worker, "facemirror-worker", self)
        self._thread = self._background.thread
        self._request_load.connect(self._worker.load_models)
        self._request_process.connect(self._worker.process)
        self._worker.models_ready.connect(self._on_models_ready)
        self._worker.progress.connect(self._on_progress)
        self._worker.job_finished.connect(self._on_job_finished)
        self._worker.notice.connect(self._on_notice)
        self._background.start()
        self._request_load.emit()

    # =========================================================================================
    # properties
    @property
    def output_folder(self) -> Path | None:
        data = self.output_combo.currentData()
        return Path(data) if data else None

    @property
    def midline(self) -> str:
        return self.midline_combo.currentData() or MIDLINE_METHODS[0]

    @property
    def queue(self) -> JobQueue:
        """The jobs and the run's state (the table shows the same queue)."""
        return self.model.queue

    @property
    def is_running(self) -> bool:
        return self.queue.running

    @property
    def worker_thread(self) -> QThread:
        return self._thread

    def message(self, text: str, ms: int = MESSAGE_MS) -> None:
        """A non-blocking notice in the status bar."""
        self.statusBar().showMessage(text, ms)

    # =========================================================================================
    # adding files
    def add_paths(self, paths) -> int:
        """Add video files and folders; refuse anything else with a message. Returns rows added."""
        videos, refused = collect_videos(paths)
        finished, requeue, fresh = self._sort_known(videos)
        subject = self.subject_fields.current()
        added, duplicates = self._add_jobs(fresh, subject)
        if added and any(subject.values()):
            logs.note_private_words(*subject.values())
            self.subject_fields.remember()      # only when the user asked ("Offer earlier IDs")
        if added:
            self.subject_fields.clear()         # the values belong to these videos, not to the next ones
        again = self.model.retry([self.model.row_of(j.id) for j in requeue])
        notes = self._added_notes(added, again, finished, duplicates)
        if added and any(subject.values()):
            notes[0] += " for " + ", ".join(f"{k} {v}" for k, v in subject.items() if v)
        if refused:
            notes.append(refused_message(refused))
        if notes:
            self.message(". ".join(notes))
        self._update_actions()
        return len(added)

    def _add_jobs(self, paths, subject: dict, rest: tuple[float, float] | None = None) -> tuple[list[Job], list[Path]]:
        """Queue new files with their per-job settings (what they are added with: the patient and
        visit, a live exam's rest; _settings(job) hands them to the pipeline), and have their
        durations read."""
        added, duplicates = self.model.add_paths(paths)
        for job in added:
            job.subject, job.rest = dict(subject), rest
            self._request_probe.emit(ProbeRequest(job.id, job.path))
        return added, duplicates

    @staticmethod
    def _added_notes(added: list[Job], again: list[Job], finished: list[Path], duplicates: list[Path]) -> list[str]:
        notes = []
        if added:
            notes.append(f"Added {len(added)} video{'s' if len(added) != 1 else ''}")
        if again:
            notes.append(f"{again[0].path.name}" + (f" and {len(again) - 1} more" if len(again) > 1 else "")
                         + " queued again (had failed or been cancelled)")
        if finished:
            notes.append(f"{finished[0].name}" + (f" and {len(finished) - 1} more" if len(finished) > 1 else "")
                         + " already processed (see its row): select it and press Retry to process it again")
        if duplicates:
            notes.append(f"{len(duplicates)} already in the queue")
        return notes

    def open_live_exam(self, source_file: Path | None = None) -> None:
        """The live exam window; ``source_file``: a video played as the camera (`main.py live --window`)."""
        from app.gui.live_window import LiveWindow

        source = None
        if source_file is not None:
            from app.gui.camera_source import PushedFileSource
            from app.live.sources import FileSource, LoopedSource

            # paced by the pushing timer, as a camera delivers, so the file is read as fast as asked;
            # looped, as a camera never ends (a demonstration may Record at any moment)
            source = PushedFileSource(LoopedSource(FileSource(Path(source_file), realtime=False)))
        old = getattr(self, "live_window", None)
        if old is not None and not old.is_closed and source is not None:
            old.set_source(source)
        elif old is None or old.is_closed:
            if old is not None:
                old.deleteLater()        # a new exam: a fresh window and camera session
            self.live_window = LiveWindow(self, settings=self.prefs.s, source=source)
            self.live_window.recording_ready.connect(self.add_recording)
        self.live_window.show()
        self.live_window.raise_()

    def add_recording(self, path, rest=None, subject=None) -> bool:
        """A live exam's recording, queued like a dropped file with its own rest window and subject,
        and processed at once (the exam is over: the clinician waits for its summary); behind the
        file being processed when the queue is already running."""
        if self.queue.closed:
            return False        # quitting: the recording stays on disk, complete
        added, _ = self._add_jobs([Path(path)], dict(subject or {}), rest)
        if not added:
            self.message(f"{Path(path).name} is already in the queue")
            return False
        busy = self.queue.running
        self.message(f"Live recording {Path(path).name} queued: it is processed after the current file" if busy
                     else f"Live recording {Path(path).name}: processing it now")
        if not busy:
            self.start()        # says so in the status bar when it cannot start (models, conversion)
        self._update_actions()
        return True

    def _sort_known(self, videos) -> tuple[list[Path], list[Job], list[Path]]:
        """Split dropped videos: already finished (not added again: said so), failed or cancelled
        rows (queued again in place), and the rest (added, or refused as duplicates)."""
        finished, requeue, fresh = [], [], []
        for v in videos:
            job = self.model.find_job(v)
            if job is not None and job.status == Status.DONE:
                finished.append(Path(v))
            elif job is not None and job.status in (Status.FAILED, Status.CANCELLED):
                requeue.append(job)
            else:
                fresh.append(v)
        return finished, requeue, fresh

    def retry_selected(self) -> None:
        """Queue the selected failed, cancelled or finished rows again, without re-adding them."""
        rows = self.selected_rows()
        finished = self.queue.finished_among(rows)
        replace = self.overwrite_box.isChecked() or (bool(finished) and self._ask_replace(finished))
        again = self.model.retry(rows, replace_finished=replace)
        kept = [j for j in finished if j not in again]
        if not again:
            self.message(f"{self.model.label(kept[0])}" + (f" and {len(kept) - 1} more" if len(kept) > 1 else "")
                         + " not queued again: its results are kept" if kept
                         else "Select failed, cancelled or finished files to retry them")
            self._update_actions()
            return
        replaced = sum(j in again for j in finished)
        note = f" ({replaced} finished: {'its' if replaced == 1 else 'their'} outputs are replaced)" if replaced else ""
        if kept:
            note += f"; {len(kept)} finished kept as {'it is' if len(kept) == 1 else 'they are'}"
        self.message(f"{len(again)} file{'s' if len(again) != 1 else ''} queued again{note}"
                     + ("" if self.queue.running else ": press Start"))
        self._update_actions()

    def _ask_replace(self, finished: list[Job]) -> bool:
        """A finished file's outputs exist: processing it again replaces them. Ask (modal; tests
        find it by object name); the default keeps the results."""
        names = ", ".join(self.model.label(j) for j in finished[:3]) + (
            f" and {len(finished) - 3} more" if len(finished) > 3 else "")
        return safe_question.ask(
            self, "confirmReplace", f"Replace the results of {names}?",
            "Processing a finished file again replaces its outputs (summary, videos, CSV, report, measures) when "
            "the new run has finished. Keep: nothing is queued and the results stay as they are.",
            "Process again and replace", "Keep the results")

    def _ask_videos(self) -> list[str]:
        patterns = " ".join(f"*{e}" for e in sorted(VIDEO_EXTENSIONS))
        files, _ = QFileDialog.getOpenFileNames(self, "Add videos", self.prefs.input_start_folder(),
                                                f"Videos ({patterns});;All files (*)")
        return files

    def _ask_folder(self, title: str, start: str) -> str:
        return QFileDialog.getExistingDirectory(self, title, start)

    def add_videos_dialog(self) -> None:
        files = self._ask_videos()
        if files:
            self.prefs.last_input_folder = str(Path(files[0]).parent)
            self.add_paths(files)

    def add_folder_dialog(self) -> None:
        folder = self._ask_folder("Add every video in a folder", self.prefs.input_start_folder())
        if folder:
            self.prefs.last_input_folder = folder
            self.add_paths([folder])

    def _on_probed(self, info: Probed) -> None:
        self.model.update_job(info.job_id, frames=info.frames, fps=info.fps, duration_s=info.duration_s, probed=True)

    # drag and drop anywhere on the window
    @staticmethod
    def _local_paths(mime) -> list[str]:
        return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if self._local_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        if self._local_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = self._local_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.add_paths(paths)

    # =========================================================================================
    # queue editing
    def selected_rows(self) -> list[int]:
        return sorted({i.row() for i in self.table.selectionModel().selectedRows()})

    def remove_selected(self) -> None:
        rows = self.selected_rows()
        if not rows:
            self.message("Select the files to remove first")
            return
        removed = self.model.remove_rows(rows)
        if removed < len(rows):
            self.message("The file being processed cannot be removed; Cancel stops it")
        self._update_actions()

    def move_selected(self, delta: int) -> None:
        rows = self.selected_rows()
        if len(rows) != 1:
            return
        new = self.model.move(rows[0], delta)
        self.table.selectionModel().setCurrentIndex(
            self.model.index(new, 0),
            QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        self._update_actions()

    # =========================================================================================
    # output folder and midline
    def choose_output_folder(self) -> None:
        start = str(self.output_folder or self.prefs.last_output_folder or self.prefs.input_start_folder())
        folder = self._ask_folder("Write outputs into this folder", start)
        if folder:
            self.set_output_folder(Path(folder))

    def set_output_folder(self, folder: Path | None) -> None:
        """None: beside each input; otherwise one folder for all outputs (remembered)."""
        if folder is None:
            self.output_combo.setCurrentIndex(0)
            return
        if self.output_combo.count() > 1:
            self.output_combo.setItemText(1, str(folder))
            self.output_combo.setItemData(1, str(folder))
        else:
            self.output_combo.addItem(str(folder), str(folder))
        self.output_combo.setItemData(1, str(folder), Qt.ItemDataRole.ToolTipRole)
        if self.output_combo.currentIndex() == 1:
            self._output_choice_changed(1)
        else:
            self.output_combo.setCurrentIndex(1)

    def _output_choice_changed(self, _index: int) -> None:
        folder = self.output_folder
        self.prefs.output_folder = folder
        self.model.set_default_out_dir(folder)

    def _midline_changed(self, _index: int) -> None:
        self.prefs.midline = self.midline

    def _open_url(self, url: QUrl) -> bool:
        return QDesktopServices.openUrl(url)

    def _open_path(self, path: Path, what: str) -> bool:
        """Open with the system; when it cannot, say so and where the file is (open_failure)."""
        return open_or_explain(self, Path(path), what, opener=lambda p: self._open_url(QUrl.fromLocalFile(str(p))),
                               notify=lambda text: self.message(text, 30000))

    @staticmethod
    def _summary_of(job: Job | None) -> Path | None:
        """The visual summary (NAME_summary.html) of a finished row, if it is there."""
        summary = (job.outputs or {}).get("summary") if job is not None and job.status == Status.DONE else None
        return Path(summary) if summary is not None and Path(summary).is_file() else None

    def open_summary(self) -> None:
        rows = self.selected_rows()
        summary = self._summary_of(self.model.job_at(rows[0])) if len(rows) == 1 else None
        if summary is None:
            self.message("Select one finished file to open its summary")
        else:
            self._open_path(summary, "the summary")

    def compare_visits(self) -> None:
        rows = self.selected_rows()
        job = self.model.job_at(rows[0]) if len(rows) == 1 else None
        patient = patient_of(job)
        if job is None or patient is None or job.out_dir is None:
            self.message("Select one finished file that has a patient ID to compare that patient's visits")
            return
        self._comparing = True
        self._update_actions()
        self.message(f"Comparing the visits of patient {patient}...")
        self._request_compare.emit(folders_for(self.model.jobs, patient), job.out_dir / COMPARE_FOLDER, patient)

    def _on_compared(self, page: str, problem: str) -> None:
        self._comparing = False
        if self.queue.closed:
            return
        self._update_actions()
        if not page:
            self.message(problem)
        elif self._open_path(Path(page), "the comparison page"):
            self.message(f"Comparison page written and opened: {page}")

    def open_summary_or_folder(self) -> None:
        """A finished row opens its visual summary (NAME_summary.html); any other its output folder."""
        rows = self.selected_rows()
        if rows and self._summary_of(self.model.job_at(rows[0])) is not None:
            self.open_summary()
            return
        self.open_output_folder()

    def _row_menu(self) -> QMenu:
        menu = QMenu(self)
        for a in (self.open_summary_action, self.compare_action, self.open_output_action, None, self.retry_action,
                  self.remove_action):
            if a is None:
                menu.addSeparator()
            else:
                menu.addAction(a)
        return menu

    def _show_row_menu(self, pos) -> None:
        menu = self._row_menu()
        menu.exec(self.table.viewport().mapToGlobal(pos))
        menu.deleteLater()

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt API
        if (obj is getattr(self, "table", None) and event.type() == QEvent.Type.ContextMenu
                and event.reason() == QContextMenuEvent.Reason.Keyboard):
            self._show_row_menu_from_keyboard()
            return True
        return super().eventFilter(obj, event)

    def _show_row_menu_from_keyboard(self) -> None:
        """Shift+F10 or the Menu key: the menu of the current row, opened at that row."""
        index = self.table.currentIndex()
        rows = self.selected_rows()
        if rows and (not index.isValid() or index.row() not in rows):
            index = self.model.index(rows[0], COL_FILE)
        rect = self.table.visualRect(index) if index.isValid() else None
        self._show_row_menu(rect.bottomLeft() if rect is not None and rect.isValid() else self.table.viewport().rect().topLeft())

    def _show_details(self) -> None:
        """One line under the queue with the full status of the selected row (the cell cuts it)."""
        if not hasattr(self, "details_label"):
            return
        rows = self.selected_rows()
        job = self.model.job_at(rows[0]) if len(rows) == 1 else None
        text = job.status_tooltip if job is not None and job.status in RETRYABLE else ""   # reasons to read
        self.details_label.setText(f"{self.model.label(job)}: {text}" if text else "")
        if self.details_label.isVisible() != bool(text):
            self.details_label.setVisible(bool(text))
            QTimer.singleShot(0, self._fit_queue_rows)     # the queue keeps its rows after the relayout

    def open_output_folder(self) -> None:
        rows = self.selected_rows()
        if rows:
            folder = self.model.out_dir_for(self.model.job_at(rows[0]))
        elif self.queue.current is not None:
            folder = self.model.out_dir_for(self.queue.current)
        else:
            folder = self.output_folder or self._last_output_dir
        if folder is None:
            self.message("No output folder yet: select a file in the queue or choose an output folder")
            return
        if not folder.is_dir():
            self.message(f"The output folder {folder} does not exist yet")
            return
        self._open_path(folder, "the output folder")

    # =========================================================================================
    # models
    def _show_model_status(self, status: ModelStatus) -> None:
        self.model_status = status
        self.models_panel.show_status(status)
        self.backend_label.setText(status.backend_text)
        warn, colour = "", "#b35c00"
        if notices.UNTRAINED in status.notices:
            warn, colour = f"WARNING: {notices.SHORT[notices.UNTRAINED]}", "#c62828"
        elif notices.COARSE in status.notices and status.loaded:
            warn = f"WARNING: {notices.SHORT[notices.COARSE]}"
        elif status.error:
            warn = "WARNING: models failed to load"
        self.warning_label.setText(warn)
        self.warning_label.setStyleSheet(f"QLabel {{ color: {colour}; font-weight: bold; }}")
        self.warning_label.setToolTip("\n".join(status.warnings + ([status.error] if status.error else [])))
        self.warning_label.setVisible(bool(warn))
        self._show_midline_choice()

    @property
    def five_point_mode(self) -> bool:
        """The models are loaded without STAR: the midline choice cannot apply."""
        return self.model_status.loaded and notices.COARSE in self.model_status.notices

    def _show_midline_choice(self) -> None:
        coarse = self.five_point_mode
        self.midline_combo.setEnabled(not coarse)
        self.midline_combo.setToolTip(FALLBACK_CHOICE_REASON if coarse else MIDLINE_TOOLTIP)
        self.midline_note_action.setVisible(coarse)
        # the note takes the disabled choice's place: both side by side pushed the end of the
        # toolbar into its overflow menu at 1024 px
        self.midline_combo_action.setVisible(not coarse)

    def _on_models_ready(self, status: ModelStatus) -> None:
        if self.queue.closed:
            return
        self.models_known = True
        self._show_model_status(status)
        self._update_actions()
        self.models_changed.emit(status)

    def _ask_checkpoint(self, key: str) -> str:
        ckpt = checkpoint_names([key])[0]
        path, _ = QFileDialog.getOpenFileName(
            self, f"Choose the {SHORT_NAME[key]} checkpoint ({ckpt})", self.prefs.input_start_folder(),
            "PyTorch checkpoints (*.pkl *.pth *.pt);;All files (*)")
        return path

    def convert_model(self, key: str) -> None:
        if not status_info.converter_available():
            self.message(converter_missing_hint(), 30000)
            return
        if self.queue.running or self._conversion is not None:
            self.message("Wait until processing (or the running conversion) has finished")
            return
        checkpoint = self._ask_checkpoint(key)
        if not checkpoint:
            return
        out = conversion_target_dir() / model_filename(key)
        self._conversion = Conversion(key, Path(checkpoint), out, self)
        self._conversion.log.connect(self.models_panel.show_log)
        self._conversion.finished.connect(self._on_conversion_finished)
        self.models_panel.set_converting(True, f"Converting {Path(checkpoint).name} to {out} ... "
                                                "(this takes a minute)")
        self._conversion.start()
        self._update_actions()

    def _on_conversion_finished(self, ok: bool, message: str) -> None:
        self._conversion = None
        self.models_panel.set_converting(False, ("Done: " if ok else "Conversion failed: ") + message)
        if self._close_after_conversion:
            self.close()
            return
        if ok:
            self.models_known = False
            self.backend_label.setText("Loading models...")
            self._request_load.emit()
        else:
            self.message(f"Conversion failed: {message}")
        self._update_actions()

    # =========================================================================================
    # processing: the queue (app.batch.job_queue) decides; the window says it and feeds the worker
    def start(self) -> None:
        if self.queue.running or self.queue.closed:
            return
        if not self.model_status.can_process:
            self.message("Cannot start: the face detector model is not installed (see the models panel)"
                         if self.models_known else "Cannot start yet: the models are still loading")
            return
        if self._conversion is not None:
            self.message("Cannot start while a model is being converted")
            return
        if not self.queue.start():      # refuses colliding outputs before anything starts
            self.message("Nothing to process: add videos first (drop them on the window or Ctrl+O)")
            return
        self.models_panel.set_busy(True)
        self._update_actions()
        self._preview_timer.start()
        self._start_next()

    def _settings(self, job=None) -> Settings:
        """The one place that turns a job (what it was added with) and the window's options into
        the pipeline's Settings."""
        # 5-point mode: the choice is disabled and cannot apply; send the default so the result
        # does not repeat the window's own explanation as a warning
        midline = DEFAULT_METHOD if self.five_point_mode else self.midline
        subject = job.subject if job is not None else {}
        # a finished file the user chose to process again replaces its own outputs (retry_selected)
        replace = self.overwrite_box.isChecked() or (job is not None and job.replace)
        return Settings(midline=midline, annotated=True, overwrite=replace,
                        preview_max_side=PREVIEW_MAX_SIDE, preview_fps=PREVIEW_FPS,
                        rest=job.rest if job is not None else None,
                        patient=subject.get("patient"), visit=subject.get("visit"))

    def _start_next(self) -> None:
        job = self.queue.next_job()
        if job is None:
            self._finish_queue()
            return
        n_done = self.queue.finished_in_batch
        self.preview.clear()
        self.trace.clear()
        self._update_actions()         # the selected row may be this one: it cannot be removed now
        self.throughput.start_file(self.model.label(job), n_done + 1, max(n_done + 1, self.queue.run_size))
        self._request_process.emit(ProcessRequest(job.id, job.path, self.model.out_dir_for(job), self._settings(job),
                                                  self.queue.cancel_event))

    def _on_notice(self, notice: Notice) -> None:
        self.queue.note(notice.code, notice.text)
        self.message(notice.text, 30000)

    def _on_progress(self, update: JobProgress) -> None:
        if not self.queue.is_current(update.job_id) or self.queue.closed:
            return
        p = update.progress
        frac = min(1.0, p.frames_done / p.frames_total) if p.frames_total else None
        self.model.update_job(update.job_id, frames_done=p.frames_done, progress=frac)
        eta, partial = queue_eta(p.eta_s, self.model.waiting(after=self.queue.current), p.fps)
        self.throughput.update_progress(p, eta, partial)

    def _poll_preview(self) -> None:
        if self.queue.closed or self._worker is None:
            return
        images = self._worker.take_preview()
        if images is not None and self.queue.is_current(images.job_id):
            self.preview.set_images(images.frame_index, images.annotated, images.left, images.right)
            if images.symmetry:
                self.trace.add_sample(images.time_s, images.symmetry)

    def _on_job_finished(self, finished: JobFinished) -> None:
        self._poll_preview()            # the last frames of this file
        job_id, result = finished.job_id, finished.result
        if result.ok:
            own = notices.file_warnings(result.warnings)     # the run's notices are said once
            job = self.queue.finish(job_id, Status.DONE, progress=1.0, message="; ".join(own),
                                    outputs=dict(result.outputs), verdict=result.report.get("verdict"))
            if job is not None:
                self._last_output_dir = job.out_dir
        elif result.cancelled:
            self.queue.finish(job_id, Status.CANCELLED, message="")
            self.preview.clear()       # a cancelled file leaves nothing: no last frame of it either
            self.trace.clear()
        else:
            self._record_failure(job_id, result)
        if self.queue.closed:
            return
        self._start_next()
        self._update_confirm_quit()

    def _record_failure(self, job_id: int, result) -> None:
        error = result.error or "unknown error"
        if result.outputs_exist:
            error += ' Tick "Replace existing outputs" to replace them, or choose another output folder.'
        job = self.queue.finish(job_id, Status.FAILED, message=error)
        if job is not None and not self.queue.closed:
            self.message(f"{job.path.name} failed: {error}", 20000)

    def _finish_queue(self) -> None:
        self._preview_timer.stop()
        summary = self.queue.end()
        self.models_panel.set_busy(False)
        text = summary.window_text()
        self.throughput.finish(text, summary.outcome, summary.done, max(summary.total, summary.planned))
        if not (summary.failed and not summary.stopped):    # a failure's own message stays up
            said = [n.text for n in self.queue.notices]
            self.message(". ".join([text] + said), MESSAGE_MS + 10000 * len(said))
        self._update_actions()
        self.queue_finished.emit(text)

    def cancel_asked(self) -> None:
        """Esc: ask before stopping the running file (default: keep processing, so any number of
        Esc presses never stops anything)."""
        current = self.queue.current
        if self.queue.state is not QueueState.RUNNING or current is None or self._cancel_box is not None:
            return
        def keep_box(box) -> None:
            self._cancel_box = box
        if safe_question.ask(self, "confirmCancel", "Stop processing?",
                             f"{self.model.label(current)} is being processed: it is stopped and leaves no output; "
                             "the files still waiting stay in the queue.", "Stop processing", "Keep processing",
                             shown=keep_box):
            self.cancel()

    def cancel(self) -> None:
        if not self.queue.request_stop():
            return
        self.message("Cancelling... the current file leaves no output")
        self._update_actions()

    # =========================================================================================
    def _update_actions(self, *_args) -> None:
        rows = self.selected_rows() if hasattr(self, "table") else []
        jobs = [self.model.job_at(r) for r in rows]
        idle = not self.queue.running and self._conversion is None
        self.start_action.setEnabled(idle and self.model_status.can_process and self.model.next_waiting() is not None)
        self.cancel_action.setEnabled(self.queue.state is QueueState.RUNNING)
        self.cancel_key_action.setEnabled(self.queue.state is QueueState.RUNNING)
        # a row that has started is stopped by Cancel, never removed
        self.remove_action.setEnabled(bool(jobs) and all(j.status != Status.PROCESSING for j in jobs))
        self.retry_action.setEnabled(any(j.status in (Status.FAILED, Status.CANCELLED, Status.DONE) for j in jobs))
        single = len(rows) == 1
        self.up_action.setEnabled(single and self.model.can_move(rows[0], -1))
        self.down_action.setEnabled(single and self.model.can_move(rows[0], 1))
        self.output_combo.setEnabled(not self.queue.running)
        self.choose_output_action.setEnabled(not self.queue.running)
        self.open_summary_action.setEnabled(single and self._summary_of(jobs[0]) is not None)
        self.compare_action.setEnabled(single and patient_of(jobs[0]) is not None and not self._comparing)
        self._show_details()

    # =========================================================================================
    # closing
    def closeEvent(self, event) -> None:  # noqa: N802
        if self._conversion is not None:
            self._close_after_conversion = True
            self.message("A model conversion is running; the window closes when it has finished", 60000)
            event.ignore()
            return
        live = getattr(self, "live_window", None)     # issue 31 (live-safety): a live recording asks first
        if live is not None and not live.may_quit():
            event.ignore()
            return
        if self.queue.running and not self._confirm_quit():
            event.ignore()
            return
        self.shutdown()
        super().closeEvent(event)

    def _confirm_quit(self) -> bool:
        """Ask before stopping a file that is processing (modal; tests find it by object name)."""
        box = QMessageBox(QMessageBox.Icon.Question, APP_NAME, "Stop processing and quit?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setObjectName("confirmQuit")
        box.button(QMessageBox.StandardButton.Yes).setText("Stop and quit")
        box.button(QMessageBox.StandardButton.No).setText("Keep processing")
        box.setDefaultButton(QMessageBox.StandardButton.No)
        self._confirm_box = box
        self._update_confirm_quit()
        try:
            answer = box.exec()
        finally:
            self._confirm_box = None
            box.deleteLater()
        return answer == QMessageBox.StandardButton.Yes

    def _update_confirm_quit(self) -> None:
        """The question follows the queue: it names the file it would stop, and once nothing is
        processing any more it says so (quitting then loses nothing)."""
        box = self._confirm_box
        if box is None:
            return
        yes, no = box.button(QMessageBox.StandardButton.Yes), box.button(QMessageBox.StandardButton.No)
        current = self.queue.current
        if self.queue.running and current is not None:
            box.setText("Stop processing and quit?")
            box.setInformativeText(f"{self.model.label(current)} is being processed: it is stopped and "
                                   "leaves no output; videos already finished keep their results.")
            yes.setText("Stop and quit")
            no.setText("Keep processing")
        else:
            box.setText("Processing has finished. Quit now?")
            box.setInformativeText("Every result is written; nothing is lost by quitting.")
            yes.setText("Quit")
            no.setText("Keep the window open")

    def shutdown(self) -> None:
        """Cancel the running file, stop the threads, remember the settings. Idempotent.

        Order matters for a clean exit: cancel first so the pipeline returns within a frame or two,
        then stop each BackgroundThread (waits, drops requests never started, delivers results
        already queued, releases ONNX sessions and images) while Python and Qt are fully alive."""
        if self.queue.closed:
            return
        self.queue.close()              # cancels the running file; late results start nothing
        if getattr(self, "live_window", None) is not None:
            self.live_window.close()     # finishes a recording in progress (kept on disk, complete)
        self._preview_timer.stop()
        try:
            self.prefs.set_geometry(self.saveGeometry())
            self.prefs.set_splitter(self.splitter.saveState())
            self.prefs.sync()
        except RuntimeError:
            pass
        self._background.stop()
        self._worker = None
        if self._conversion is not None:
            self._conversion.wait()
        self._prober.stop()
        self._comparer.stop()
        self._file_open.detach(self.add_paths)
        try:
            QApplication.instance().aboutToQuit.disconnect(self.shutdown)
        except (RuntimeError, TypeError):
            pass
