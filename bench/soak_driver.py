"""The process under test of `main.py benchmark soak` (bench/soak.py starts it, samples it, reads it).

    python bench/soak_driver.py live  --source FILE --out DIR --seconds S --record-every S --record-seconds S
    python bench/soak_driver.py main  --clips DIR --out DIR [--deadline S]

It runs the real app: `app.gui.launch.launch_gui` (the code path of `python main.py` and of
`main.py live --window --source FILE`), its QApplication and its event loop, and drives the
windows as a user would, through their own buttons and actions, from a QTimer on the GUI thread:

- live: the live exam window with FILE looped as the camera; every RECORD_EVERY s the Record button
  is clicked, RECORD_SECONDS later it is clicked again (Stop), which hands the recording to the
  main window, which processes it at once. After SECONDS no new recording starts; once every
  recording is processed the live window and the main window are closed (their close buttons'
  path) and the process exits with launch_gui's status.
- main: every sub-folder of DIR (a "clinic folder" of short clips) is added to the main window's
  queue (add_paths: the path of a drop or Add folder) and Start is triggered; when the queue has
  finished the next folder follows; after the last one the window is closed.

Stdout carries one line per event, "SOAK {json}" (ready, warm, recorded, added, tick, closing,
end), read by bench/soak.py: "warm" (the first file processed) ends the warm-up of the memory
figures, "closing" marks the last sample taken while the windows were still up. Each tick carries
sys.getrefcount(None) (None is immortal from Python 3.12 on: then null), the figure that fell by one
per Qt call returning None on PySide6 6.12.0 (issue 31). Settings go to a private folder
(--settings), never the user's.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # the checkout's app, as main.py runs it

T0 = time.monotonic()
POLL_MS = 200
TICK_S = 2.0


def emit(event: str, **fields) -> None:
    print("SOAK " + json.dumps({"event": event, "t": round(time.monotonic() - T0, 2), **fields}), flush=True)


def none_refs() -> int | None:
    return None if sys.version_info >= (3, 12) else sys.getrefcount(None)


def self_sample() -> dict:
    """This process's resident memory, threads (by name: a growing pool says which) and open file
    descriptors, read at the moment of the event (no race with the sampler outside)."""
    import collections
    import os

    rss_kb = next((int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
                   if line.startswith("VmRSS:")), 0)
    names = collections.Counter()
    for task in Path("/proc/self/task").iterdir():
        try:
            names[(task / "comm").read_text().strip()] += 1
        except OSError:
            pass                                   # a thread that has just ended
    return {"rss_mb": round(rss_kb / 1024.0, 1), "threads": sum(names.values()), "fds": len(os.listdir("/proc/self/fd")),
            "thread_names": dict(sorted(names.items()))}


def _args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="soak_driver")
    p.add_argument("mode", choices=("live", "main"))
    p.add_argument("--out", type=Path, required=True, help="outputs (and the live recordings)")
    p.add_argument("--settings", type=Path, required=True, help="private folder for the app's settings")
    p.add_argument("--source", type=Path, help="live: the file played as the camera")
    p.add_argument("--seconds", type=float, default=60.0, help="live: how long recordings are started")
    p.add_argument("--record-every", type=float, default=60.0)
    p.add_argument("--record-seconds", type=float, default=5.0)
    p.add_argument("--first-record", type=float, default=5.0, help="live: seconds before the first Record")
    p.add_argument("--clips", type=Path, help="main: folder of clip folders, added one folder at a time")
    p.add_argument("--deadline", type=float, default=None,
                   help="seconds after which the driver cancels what is running and closes the windows")
    return p.parse_args(argv)


class Driver:
    def __init__(self, args: argparse.Namespace):
        from PySide6.QtWidgets import QApplication

        self.args = args
        self.qapp = QApplication.instance()
        self.phase = "wait"
        self.start = 0.0
        self.next_tick = 0.0
        self.warm = False
        self.closing = False
        self.recordings: list[str] = []
        self.record_clicks = 0
        self.rec_stop_at = 0.0
        self.next_rec_at = 0.0
        self.folders = sorted(p for p in args.clips.iterdir() if p.is_dir()) if args.clips else []
        self.folder_k = 0
        self.problems: list[str] = []

    # ------------------------------------------------------------------------------------------
    def window(self):
        from app.gui.main_window import MainWindow

        return next((w for w in self.qapp.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()), None)

    def counts(self, w) -> dict:
        from app.batch.job_queue.jobs import Status

        jobs = w.model.jobs
        failed = [j for j in jobs if j.status == Status.FAILED]
        return {"jobs": len(jobs), "done": sum(j.status == Status.DONE for j in jobs), "failed": len(failed),
                "cancelled": sum(j.status == Status.CANCELLED for j in jobs),
                "waiting": sum(j.status == Status.WAITING for j in jobs),
                "failures": sorted({(j.message or "")[:160] for j in failed})[:3]}

    def poll(self) -> None:
        w = self.window()
        if w is None or self.closing:
            return
        now = time.monotonic()
        if self.phase == "wait":
            if not w.models_known or (self.args.mode == "live" and not self._live_ready(w)):
                return
            self.start = self.next_tick = now
            emit("ready", five_point=w.five_point_mode, none_refs=none_refs(), proc=self_sample())
            w.set_output_folder(self.args.out / "outputs")
            self.phase = "run"
            if self.args.mode == "live":
                self.next_rec_at = now + self.args.first_record
            else:
                w.queue_finished.connect(self._queue_finished)
                self._add_next_folder(w)
        if now >= self.next_tick:
            self.next_tick += TICK_S
            emit("tick", none_refs=none_refs(), recordings=len(self.recordings), **self.counts(w))
        c = self.counts(w)
        if not self.warm and c["done"] + c["failed"] > 0:
            self.warm = True
            emit("warm", none_refs=none_refs(), proc=self_sample(), **c)
        if self.args.deadline is not None and now - self.start > self.args.deadline and self.phase != "drain-timeout":
            self.problems.append(f"deadline of {self.args.deadline:g} s passed: cancelled and closed")
            self.phase = "drain-timeout"
            lw = getattr(w, "live_window", None)
            if lw is not None and lw.recording:
                lw.record_button.click()
            w.cancel_action.trigger()
        if self.args.mode == "live":
            self._live_step(w, now)
        # past the deadline the rows still waiting stay waiting (the run was cut short, said in problems)
        if not w.is_running and (self.phase == "drain" and c["waiting"] == 0 or self.phase == "drain-timeout"):
            self._close(w)

    # ------------------------------------------------------------------------------------------
    # live exam
    @staticmethod
    def _live_ready(w) -> bool:
        lw = getattr(w, "live_window", None)
        return lw is not None and lw.isVisible() and lw.frames_seen > 0 and lw.record_button.isEnabled()

    def _live_step(self, w, now: float) -> None:
        lw = w.live_window
        if self.phase != "run":
            return
        if lw.recording:
            if now >= self.rec_stop_at:
                before = lw.last_recording
                lw.record_button.click()                      # Stop: the recording goes to the main window
                if lw.last_recording is not before and lw.last_recording is not None:
                    self.recordings.append(lw.last_recording[0].name)
                    emit("recorded", n=len(self.recordings), frames_seen=lw.frames_seen, note=lw.notice.text()[:200])
                else:
                    self.problems.append(f"Stop handed nothing over: {lw.notice.text()[:200]}")
            return
        end = self.start + self.args.seconds
        if now >= end:
            self.phase = "drain"
            emit("drain", recordings=len(self.recordings))
        elif now >= self.next_rec_at and now + self.args.record_seconds <= end:
            self.next_rec_at += self.args.record_every
            lw.record_button.click()                          # Record
            self.record_clicks += 1
            if lw.recording:
                self.rec_stop_at = now + self.args.record_seconds
            else:
                self.problems.append(f"Record did not start: {lw.notice.text()[:200]}")

    # ------------------------------------------------------------------------------------------
    # main window over folders of clips
    def _add_next_folder(self, w) -> None:
        folder = self.folders[self.folder_k]
        rows = w.add_paths([folder])                          # as a dropped folder
        w.start_action.trigger()                              # Start
        emit("added", folder=folder.name, rows=rows, running=w.is_running)
        if not w.is_running:
            self.problems.append(f"Start did not start on {folder.name}: {w.statusBar().currentMessage()[:200]}")
            self.phase = "drain"

    def _queue_finished(self, _text: str) -> None:
        if self.phase != "run":
            return
        self.folder_k += 1
        w = self.window()
        if w is None:
            return
        if self.folder_k < len(self.folders):
            from PySide6.QtCore import QTimer

            QTimer.singleShot(0, lambda: self._add_next_folder(w))   # after the window has said "finished"
        else:
            self.phase = "drain"
            emit("drain")

    # ------------------------------------------------------------------------------------------
    def _close(self, w) -> None:
        self.closing = True
        c = self.counts(w)
        emit("closing", none_refs=none_refs(), proc=self_sample(), recordings=len(self.recordings), record_clicks=self.record_clicks,
             problems=self.problems, **c)
        self.summary = {"recordings": len(self.recordings), "record_clicks": self.record_clicks,
                        "problems": self.problems, **c}
        lw = getattr(w, "live_window", None)
        if lw is not None:
            lw.close()                                        # the live window's close button
        w.close()                                             # the main window's: idle, so no question


def main(argv: list[str]) -> int:
    args = _args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(args.settings))
    app = QApplication(sys.argv[:1])
    from app.gui.prefs import open_settings

    s = open_settings()                                      # the live window's folder, as Change... sets it
    s.setValue("live/folder", str(args.out / "recordings"))
    s.sync()
    del s
    driver = Driver(args)
    timer = QTimer()
    timer.timeout.connect(driver.poll)
    timer.start(POLL_MS)

    from app.base import logs
    from app.gui.launch import launch_gui

    logs.setup()                                             # as app.cli.main.main does before the window
    status = launch_gui(live_source=args.source if args.mode == "live" else None)
    timer.stop()
    emit("end", status=status, none_refs=none_refs(), **getattr(driver, "summary", {"problems": driver.problems}))
    del app
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
