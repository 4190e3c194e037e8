"""What a running window session has in progress, kept on disk so that the next launch can tell
the clinician what a crash left behind.

A crash (an abort in a native library, a power cut, a kill) runs no Python clean-up: the live
exam's recording stays under NAME.recording.mp4 (playable up to its last second) and the run in
progress leaves hidden partial outputs. The session writes a small journal when it starts, adds
each recording and output folder as it begins to use them, and deletes the journal when it ends
normally. A journal whose process is gone therefore means the session ended unexpectedly; the
next launch reads it (:func:`left_by_crash`), removes the partial outputs of dead runs in those
folders (app.base.outputs.clean_stale_files: never a finished result) and names the kept recordings.

The journal holds the recordings' paths, which may name a patient: it lives in the user's own
state folder, never in the log folder (which users are asked to send) and never in diagnostics.
Functions are no-ops when no journal was started (the command line does not keep one).
"""
from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from app.base.wording import plural
from app.base import paths

log = logging.getLogger(__name__)

JOURNAL_PREFIX = "session-"
_lock = threading.Lock()
_current: "Journal | None" = None


def journal_dir() -> Path:
    return paths.user_state_dir() / "sessions"


@dataclass
class Journal:
    path: Path
    data: dict = field(default_factory=dict)

    def _write(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            tmp.write_text(json.dumps(self.data, indent=1), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:      # a full disk must not stop the session; the journal is a courtesy
            log.warning("session journal not updated: %s", exc)

    def add(self, key: str, path: Path) -> None:
        value = str(Path(path).resolve())
        with _lock:
            items = self.data.setdefault(key, [])
            if value in items:
                return
            items.append(value)
            self._write()

    def remove(self, key: str, path: Path) -> None:
        value = str(Path(path).resolve())
        with _lock:
            items = self.data.get(key, [])
            if value not in items:
                return
            items.remove(value)
            self._write()


def start(kind: str = "window") -> Journal | None:
    """Begin this process's journal (once); None when the state folder cannot be written."""
    global _current
    if _current is not None:
        return _current
    folder = journal_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log.warning("no session journal (%s): a crash will not be reported at the next launch", exc)
        return None
    journal = Journal(folder / f"{JOURNAL_PREFIX}{os.getpid()}.json",
                      {"pid": os.getpid(), "host": socket.gethostname(), "kind": kind,
                       "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "recordings": [], "folders": []})
    journal._write()
    if not journal.path.exists():
        return None
    _current = journal
    return journal


def end() -> None:
    """The session ended normally: nothing of it needs reporting."""
    global _current
    with _lock:
        journal, _current = _current, None
    if journal is not None:
        try:
            journal.path.unlink()
        except OSError:
            pass


def note_recording(path: Path) -> None:
    """A live recording is being written here (its .recording.mp4 name)."""
    if _current is not None:
        _current.add("recordings", path)


def recording_closed(path: Path) -> None:
    """The recording was completed, or its interrupted part kept and reported at the time."""
    if _current is not None:
        _current.remove("recordings", path)


def note_output_folder(folder: Path) -> None:
    """A run writes its temporary outputs into this folder."""
    if _current is not None:
        _current.add("folders", folder)


@dataclass
class Leftover:
    """What one session that ended unexpectedly left behind."""
    journal: Path
    started: str
    recordings: list[Path]          # kept, playable up to their last second
    removed: list[Path]             # partial outputs of its unfinished run, now removed
    problems: list[str]             # folders that could not be cleaned

    def message(self) -> str:
        lines = [f"FaceMirror did not close normally last time (session started {self.started.replace('T', ' ')}). "
                 "The log has what happened: Help > Show log."]
        if self.recordings:
            lines.append("The live exam recording it was making is kept, playable up to its last second:")
            lines += [f"  {p}" for p in self.recordings]
        if self.removed:
            folders = sorted({str(p.parent) for p in self.removed})
            lines.append(f"It was writing results when it stopped: {plural(len(self.removed), 'unfinished output file')} "
                         f"in {', '.join(folders)} "
                         "were removed. Earlier results and the videos themselves were not touched; "
                         "process those videos again.")
        lines += self.problems
        if not self.recordings and not self.removed and not self.problems:
            lines.append("Nothing was left unfinished.")
        return "\n".join(lines)


def left_by_crash() -> list[Leftover]:
    """Sessions of this computer whose process is gone without ending its journal; their partial
    outputs are removed here and their journals deleted (each is reported once)."""
    from app.base.outputs import process_alive

    folder = journal_dir()
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    host = socket.gethostname()
    found = []
    for name in names:
        if not (name.startswith(JOURNAL_PREFIX) and name.endswith(".json")):
            continue
        path = folder / name
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            pid = int(data["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("unreadable session journal removed")
            _unlink(path)
            continue
        if data.get("host") != host or process_alive(pid):
            continue
        leftover = _clean_up_after(path, data)
        found.append(leftover)
        _unlink(path)
        log.warning("the previous session (process %s) ended unexpectedly: %d recording(s) kept, "
                    "%d partial file(s) removed", pid, len(leftover.recordings), len(leftover.removed))
    return found


def _clean_up_after(journal: Path, data: dict) -> Leftover:
    """What a dead session left: its recordings still there (kept), its output folders cleaned of
    partial files (app.base.outputs.clean_stale_files); folders it could not clean are problems."""
    from app.base.outputs import clean_stale_files

    recordings = [Path(p) for p in data.get("recordings", []) if Path(p).is_file()]
    removed: list[Path] = []
    problems: list[str] = []
    for out in data.get("folders", []):
        cleanup = clean_stale_files(Path(out))
        removed += cleanup.removed
        if cleanup.kept:
            problems.append(cleanup.message())
    return Leftover(journal, str(data.get("started", "?")), recordings, removed, problems)


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
