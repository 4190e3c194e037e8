"""The queue table: a model over Job rows, a progress-bar delegate, a background duration reader."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionProgressBar

from app.batch.job_queue.jobs import Job, Status
from app.gui.jobs import format_duration, probe_video
from app.results import verdict
from app.batch.job_queue.queue import JobQueue
from app.base.outputs import distinct_labels

COLUMNS = ("File", "Duration", "Status", "Progress", "Output folder")
COL_FILE, COL_DURATION, COL_STATUS, COL_PROGRESS, COL_OUTPUT = range(len(COLUMNS))
ProgressRole = Qt.ItemDataRole.UserRole + 1
ShowBarRole = Qt.ItemDataRole.UserRole + 2     # the progress cell draws a bar (processing or done)
LevelRole = Qt.ItemDataRole.UserRole + 3       # Job.level, for tests and accessibility tools

_STATUS_ICON = {
    Status.WAITING: QStyle.StandardPixmap.SP_FileIcon,
    Status.PROCESSING: QStyle.StandardPixmap.SP_MediaPlay,
    Status.DONE: QStyle.StandardPixmap.SP_DialogApplyButton,
    Status.SKIPPED: QStyle.StandardPixmap.SP_DialogApplyButton,    # `process --resume` only; never in the window
    Status.FAILED: QStyle.StandardPixmap.SP_MessageBoxCritical,
    Status.CANCELLED: QStyle.StandardPixmap.SP_BrowserStop,
}
# A finished file's icon follows its verdict: the green tick only for "good".
_LEVEL_ICON = {
    verdict.GOOD: QStyle.StandardPixmap.SP_DialogApplyButton,
    verdict.WARNINGS: QStyle.StandardPixmap.SP_MessageBoxWarning,
    verdict.NOT_USABLE: QStyle.StandardPixmap.SP_MessageBoxCritical,
    verdict.UNKNOWN: QStyle.StandardPixmap.SP_MessageBoxWarning,
}
AMBER, RED = QColor("#b35c00"), QColor("#c62828")
_LEVEL_COLOUR = {verdict.WARNINGS: AMBER, verdict.UNKNOWN: AMBER, verdict.NOT_USABLE: RED}


class QueueModel(QAbstractTableModel):
    """The queue's table: shows app.batch.job_queue.JobQueue (the jobs, their order and states) and tells
    the view about each change; the queue's rules are the core's, not this model's."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.queue = JobQueue(on_change=self._job_changed)
        self._labels: dict[int, str] = {}             # job id -> as much of the path as tells it apart

    # --- Qt model API --------------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.queue)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if orientation == Qt.Orientation.Vertical and role == Qt.ItemDataRole.DisplayRole:
            return str(section + 1)
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self.queue):
            return None
        job = self.queue.job_at(index.row())
        cell = _CELLS.get(role)
        return cell(self, job, index.column()) if cell is not None else None

    # --- queue operations (the core's, with the view told of rows added, removed and moved) ---
    @property
    def jobs(self) -> list[Job]:
        return self.queue.jobs

    def job_at(self, row: int) -> Job:
        return self.queue.job_at(row)

    def job_by_id(self, job_id: int) -> Job | None:
        return self.queue.job_by_id(job_id)

    def row_of(self, job_id: int) -> int:
        return self.queue.row_of(job_id)

    def add_paths(self, paths) -> tuple[list[Job], list[Path]]:
        """Append videos; a file already waiting or processing is not added twice."""
        new, duplicates = self.queue.new_jobs(paths)
        if new:
            first = len(self.queue)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            self.queue.append(new)
            self.endInsertRows()
            self._relabel()
        return new, duplicates

    def _relabel(self) -> None:
        """Same file names from different folders show their folders (visit1/smile.mp4)."""
        jobs = self.queue.jobs
        labels = distinct_labels([j.path for j in jobs])
        self._labels = {j.id: labels[j.path] for j in jobs}
        if jobs:
            self.dataChanged.emit(self.index(0, COL_FILE), self.index(len(jobs) - 1, COL_FILE))

    def label(self, job: Job) -> str:
        return self._labels.get(job.id, job.path.name)

    def remove_rows(self, rows) -> int:
        """Remove the given rows except the one being processed; returns how many were removed."""
        removed = 0
        for row in sorted(set(rows), reverse=True):
            if self.queue.removable(row):
                self.beginRemoveRows(QModelIndex(), row, row)
                self.queue.remove_at(row)
                self.endRemoveRows()
                removed += 1
        if removed:
            self._relabel()
        return removed

    def can_move(self, row: int, delta: int) -> bool:
        return self.queue.can_move(row, delta)

    def move(self, row: int, delta: int) -> int:
        """Swap a waiting row with its waiting neighbour; returns the row's new position."""
        if not self.can_move(row, delta):
            return row
        target = row + delta
        dest = target + 1 if delta > 0 else target   # Qt's destination is "before this row"
        self.beginMoveRows(QModelIndex(), row, row, QModelIndex(), dest)
        self.queue.move(row, delta)
        self.endMoveRows()
        return target

    def find_job(self, path) -> Job | None:
        return self.queue.find_job(path)

    def retry(self, rows, *, replace_finished: bool = False) -> list[Job]:
        return self.queue.retry(rows, replace_finished=replace_finished)

    def next_waiting(self) -> Job | None:
        return self.queue.next_waiting()

    def waiting(self, after: Job | None = None) -> list[Job]:
        return self.queue.waiting(after)

    def update_job(self, job_id: int, **changes) -> None:
        self.queue.update(job_id, **changes)

    def _job_changed(self, job: Job) -> None:
        row = self.queue.row_of(job.id)
        if row >= 0:
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    # --- output folders ------------------------------------------------------------------------
    def set_default_out_dir(self, folder: Path | None) -> None:
        self.queue.default_out_dir = folder
        if len(self.queue):
            self.dataChanged.emit(self.index(0, COL_OUTPUT), self.index(len(self.queue) - 1, COL_OUTPUT))

    def out_dir_for(self, job: Job) -> Path:
        return self.queue.out_dir_for(job)


# --- the cells: (model, job, column) -> the value of one role; None where a column has none ----
def _duration_text(model: QueueModel, job: Job) -> str:
    if job.duration_s is not None:
        return format_duration(job.duration_s)
    return "..." if not job.probed else "?"


def _progress_text(model: QueueModel, job: Job) -> str:
    if job.status == Status.WAITING:
        return ""
    if job.status in (Status.FAILED, Status.CANCELLED):   # no bar: never looks like success
        return job.status.value
    if job.progress is None:
        return f"{job.frames_done} frames"
    return f"{int(100 * job.progress)} %"


def _duration_tooltip(model: QueueModel, job: Job) -> str | None:
    if not job.frames:
        return None
    return f"about {job.frames} frames" + (f" at {job.fps:.2f} frames/s" if job.fps else "")


_DISPLAY: dict[int, Callable[[QueueModel, Job], object]] = {
    COL_FILE: QueueModel.label,
    COL_DURATION: _duration_text,
    COL_STATUS: lambda model, job: job.status_text,
    COL_PROGRESS: _progress_text,
    COL_OUTPUT: lambda model, job: str(model.out_dir_for(job)),
}
_TOOLTIP: dict[int, Callable[[QueueModel, Job], object]] = {
    COL_FILE: lambda model, job: str(job.path),
    COL_STATUS: lambda model, job: job.status_tooltip,
    COL_PROGRESS: lambda model, job: job.status_tooltip,
    COL_OUTPUT: lambda model, job: str(model.out_dir_for(job)),
    COL_DURATION: _duration_tooltip,
}


def _by_column(table: dict[int, Callable[[QueueModel, Job], object]]) -> Callable[[QueueModel, Job, int], object]:
    def cell(model: QueueModel, job: Job, col: int) -> object:
        fn = table.get(col)
        return fn(model, job) if fn is not None else None
    return cell


def _status_icon(model: QueueModel, job: Job, col: int) -> object:
    if col != COL_STATUS:
        return None
    icon = _LEVEL_ICON[job.level] if job.status == Status.DONE else _STATUS_ICON[job.status]
    return QApplication.style().standardIcon(icon)


def _status_colour(model: QueueModel, job: Job, col: int) -> object:
    if col not in (COL_STATUS, COL_PROGRESS):
        return None
    colour = RED if job.status == Status.FAILED else _LEVEL_COLOUR.get(job.level)
    return QBrush(colour) if colour is not None else None


def _alignment(model: QueueModel, job: Job, col: int) -> object:
    if col not in (COL_DURATION, COL_PROGRESS):
        return None
    return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


_CELLS: dict[int, Callable[[QueueModel, Job, int], object]] = {
    Qt.ItemDataRole.DisplayRole: _by_column(_DISPLAY),
    Qt.ItemDataRole.ToolTipRole: _by_column(_TOOLTIP),
    Qt.ItemDataRole.DecorationRole: _status_icon,
    Qt.ItemDataRole.ForegroundRole: _status_colour,
    ProgressRole: lambda model, job, col: job.progress if col == COL_PROGRESS else None,
    ShowBarRole: lambda model, job, col: (job.status in (Status.PROCESSING, Status.DONE)
                                          if col == COL_PROGRESS else None),
    LevelRole: lambda model, job, col: job.level,
    Qt.ItemDataRole.TextAlignmentRole: _alignment,
}


class StatusDelegate(QStyledItemDelegate):
    """The Status column cuts long text at the end, so the verdict and its first reasons stay
    readable (the table elides in the middle, which suits file names)."""

    def initStyleOption(self, option, index) -> None:  # noqa: N802
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideRight


class ProgressDelegate(QStyledItemDelegate):
    """Draws the Progress column as a progress bar (busy bar while the length is unknown)."""

    def paint(self, painter, option, index) -> None:
        value = index.data(ProgressRole)
        job_text = index.data(Qt.ItemDataRole.DisplayRole)
        if not job_text or not index.data(ShowBarRole):   # waiting, failed, cancelled: text, no bar
            super().paint(painter, option, index)
            return
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(2, 3, -2, -3)
        bar.state = option.state | QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Horizontal
        bar.direction = option.direction
        bar.fontMetrics = option.fontMetrics
        bar.palette = option.palette
        if value is None:          # length unknown: Qt draws a busy bar for min == max == 0
            bar.minimum = bar.maximum = bar.progress = 0
        else:
            bar.minimum, bar.maximum = 0, 1000
            bar.progress = int(round(1000 * max(0.0, min(1.0, value))))
        bar.text = job_text or ""
        bar.textVisible = True
        bar.textAlignment = Qt.AlignmentFlag.AlignCenter
        style = option.widget.style() if option.widget is not None else QApplication.style()
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, option.palette.highlight())
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, option.widget)


@dataclass(frozen=True)
class ProbeRequest:
    job_id: int
    path: Path


@dataclass(frozen=True)
class Probed:
    """What the container says about a queued file (Nones when it does not say)."""
    job_id: int
    frames: int | None = None
    fps: float | None = None
    duration_s: float | None = None


class DurationProber(QObject):
    """Reads frame counts and frame rates (container headers only). Lives in its own QThread
    (gui.background.BackgroundThread); requests (ProbeRequest) arrive through the queued `probe` slot."""
    probed = Signal(object)        # Probed

    @Slot(object)
    def probe(self, request: ProbeRequest) -> None:
        try:
            frames, fps, duration = probe_video(request.path)
        except Exception:  # noqa: BLE001 - an unreadable file fails later, with the pipeline's reason
            frames = fps = duration = None
        self.probed.emit(Probed(request.job_id, frames, fps, duration))
