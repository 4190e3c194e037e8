"""Progress and speed of the file being processed: frames, frames/s, ETA (file and queue), ms per stage."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QWidget

from app.gui.jobs import format_duration, format_stage_ms


class ThroughputPanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(2)
        self.file_label = QLabel("Idle: add videos, then Start.", self)
        self.file_label.setTextFormat(Qt.TextFormat.PlainText)
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 1000)
        self.bar.setValue(0)
        self.bar.setFormat("%p %")
        self.bar.setAccessibleName("Progress of the current file")
        self.speed_label = QLabel("", self)
        self.speed_label.setTextFormat(Qt.TextFormat.PlainText)
        self.stages_label = QLabel("", self)
        self.stages_label.setTextFormat(Qt.TextFormat.PlainText)
        self.stages_label.setToolTip("Mean milliseconds per frame spent in each stage of the pipeline. "
                                     "Stages run in parallel threads, so they do not add up to the frame time. "
                                     "Idle: time the inference thread waited for decoded frames and the "
                                     "writer thread waited for inference results.")
        self.stages_label.setWordWrap(True)
        grid.addWidget(self.file_label, 0, 0)
        grid.addWidget(self.bar, 0, 1)
        grid.addWidget(self.speed_label, 1, 0, 1, 2)
        grid.addWidget(self.stages_label, 2, 0, 1, 2)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)

    def start_file(self, name: str, index: int, count: int) -> None:
        self.file_label.setText(f"Processing {name} ({index} of {count})")
        self.bar.setRange(0, 1000)
        self.bar.setValue(0)
        self.bar.setFormat("%p %")
        self.speed_label.setText("starting...")
        self.stages_label.setText("")

    def update_progress(self, progress, queue_eta: float | None, queue_eta_partial: bool) -> None:
        total = progress.frames_total
        if total:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(1000 * min(1.0, progress.frames_done / total)))
            frames = f"frame {progress.frames_done} of {total}"
        else:
            self.bar.setRange(0, 0)   # busy
            frames = f"frame {progress.frames_done}"
        q = format_duration(queue_eta) if queue_eta is not None else "--:--"
        if queue_eta_partial and queue_eta is not None:
            q = "more than " + q
        self.speed_label.setText(f"{frames}  ·  {progress.fps:.1f} frames/s  ·  "
                                 f"file ETA {format_duration(progress.eta_s)}  ·  queue ETA {q}  ·  "
                                 f"elapsed {format_duration(progress.elapsed_s)}")
        stages = format_stage_ms(progress.stage_ms)
        self.stages_label.setText(f"ms per frame: {stages}" if stages else "")

    def finish(self, text: str, outcome: str = "finished", done: int | None = None, total: int | None = None) -> None:
        """The queue stopped: every line says so (nothing left from the last file's run).

        outcome: "finished" (every file done), "failed" (some failed), "cancelled". The bar then
        shows the share of this run's files that were done, e.g. "1 of 2 files done"."""
        self.file_label.setText(text)
        self.bar.setRange(0, 1000)
        if done is None or not total:
            self.bar.setValue(1000 if outcome == "finished" else 0)
            self.bar.setFormat({"finished": "finished", "failed": "finished with failures",
                                "cancelled": "cancelled"}.get(outcome, outcome))
        else:
            self.bar.setValue(int(round(1000 * done / total)))
            word = {"failed": " (some failed)", "cancelled": " (cancelled)"}.get(outcome, "")
            self.bar.setFormat(f"{done} of {total} file{'s' if total != 1 else ''} done{word}")
        self.speed_label.setText({"finished": "Not processing: the queue is finished.",
                                  "failed": "Not processing: the queue is finished; some files failed "
                                            "(select them and press Retry to try again).",
                                  "cancelled": "Not processing: cancelled; the file that was running left "
                                               "no output."}.get(outcome, "Not processing."))
        stages = self.stages_label.text()
        if stages.startswith("ms per frame"):
            self.stages_label.setText("last file, " + stages)
