"""The guided exam's protocol: the fixed task vocabulary, protocols (what to ask, for how long) and
the record of one examination (``NAME_protocol.json``: which task ran when, on the player clock).

Qt-free, stdlib only. One home for the contract shared by the live exam (which writes the record),
the measures (which read it) and docs/GUIDED_EXAM.md (which explains it to clinicians).

A *protocol* is what the guided exam plays: steps of a task held for ``hold_s`` seconds after a
``lead_s`` countdown, with ``relax_s`` seconds of rest after each. A *record* is what happened:
``{"protocol": NAME, "version": 1, "tasks": [{"task": "smile", "start_s": 12.0, "end_s": 16.0}]}``
with times in seconds on the recording's player clock. A record written by hand works for any video.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from app.base.outputs import temp_path

RECORD_VERSION = 1
RECORD_SUFFIX = "_protocol.json"

# The fixed vocabulary, in the standard protocol's order. Each task: the prompt shown (and optionally
# spoken) to the patient, in plain words readable from the patient's chair.
TASKS: dict[str, str] = {
    "rest": "Relax your face and look at the camera",
    "brow_raise": "Raise your eyebrows",
    "gentle_eye_closure": "Close your eyes gently, as if asleep",
    "full_eye_closure": "Close your eyes tightly",
    "smile": "Smile with your lips closed",
    "smile_open": "Smile broadly, showing your teeth",
    "pucker": "Pucker your lips, as if to whistle",
    "lower_lip": "Say \"EEE\" and show your lower teeth",
    "nose_wrinkle": "Wrinkle your nose",
}
RELAX_PROMPT = "Relax"

MIN_TASK_S = 0.3     # a task shorter than this cannot hold a movement and its plateau
MAX_TASK_S = 120.0


class ProtocolError(ValueError):
    """A protocol or record that cannot be used; the message says what and where, in plain words."""


@dataclass(frozen=True)
class Step:
    task: str
    hold_s: float          # the movement is held this long (the task's recorded span)
    lead_s: float = 3.0    # countdown shown before the movement starts ("Raise your eyebrows in 3, 2, 1")
    relax_s: float = 3.0   # rest after it, before the next step's countdown

    @property
    def prompt(self) -> str:
        return TASKS[self.task]


@dataclass(frozen=True)
class Protocol:
    name: str
    steps: tuple[Step, ...]

    @property
    def duration_s(self) -> float:
        return sum(s.lead_s + s.hold_s + s.relax_s for s in self.steps)


# The standard exam: the eFACE / Sunnybrook sequence (rest first, then upper face to lower face).
STANDARD = Protocol("standard", (
    Step("rest", hold_s=5.0, lead_s=2.0, relax_s=1.0),
    Step("brow_raise", hold_s=4.0),
    Step("gentle_eye_closure", hold_s=4.0),
    Step("full_eye_closure", hold_s=4.0),
    Step("smile", hold_s=4.0),
    Step("smile_open", hold_s=4.0),
    Step("pucker", hold_s=4.0),
    Step("lower_lip", hold_s=4.0),
    Step("nose_wrinkle", hold_s=4.0),
))
PROTOCOLS = {STANDARD.name: STANDARD}


@dataclass(frozen=True)
class TaskTime:
    task: str
    start_s: float
    end_s: float

    def as_dict(self) -> dict:
        return {"task": self.task, "start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3)}


@dataclass(frozen=True)
class Record:
    protocol: str
    tasks: tuple[TaskTime, ...]
    version: int = RECORD_VERSION

    def as_dict(self) -> dict:
        return {"protocol": self.protocol, "version": self.version, "tasks": [t.as_dict() for t in self.tasks]}


# ---------------------------------------------------------------------------------------------
def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        raise ProtocolError(f"{where} must be a number of seconds, not {value!r}")
    return float(value)


def _task_name(value: object, where: str) -> str:
    if value not in TASKS:
        raise ProtocolError(f"{where}: unknown task {value!r}; the tasks are {', '.join(TASKS)}")
    return str(value)


def _load_json(path: Path, what: str) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProtocolError(f"cannot read the {what} {Path(path).name}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"the {what} {Path(path).name} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"the {what} {Path(path).name} must be a JSON object")
    return data


def protocol_from_dict(data: dict) -> Protocol:
    """``{"name": "short", "steps": [{"task": "smile", "hold_s": 4, "lead_s": 3, "relax_s": 3}, ...]}``."""
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ProtocolError("a protocol needs a \"name\"")
    steps_data = data.get("steps")
    if not isinstance(steps_data, list) or not steps_data:
        raise ProtocolError("a protocol needs a non-empty list of \"steps\"")
    steps = []
    for i, item in enumerate(steps_data, 1):
        if not isinstance(item, dict):
            raise ProtocolError(f"step {i} must be an object with \"task\" and \"hold_s\"")
        task = _task_name(item.get("task"), f"step {i}")
        hold = _number(item.get("hold_s"), f"step {i} hold_s")
        lead = _number(item.get("lead_s", 3.0), f"step {i} lead_s")
        relax = _number(item.get("relax_s", 3.0), f"step {i} relax_s")
        if not MIN_TASK_S <= hold <= MAX_TASK_S:
            raise ProtocolError(f"step {i} ({task}) holds {hold:g} s; give {MIN_TASK_S:g} to {MAX_TASK_S:g} s")
        if not (0 <= lead <= MAX_TASK_S and 0 <= relax <= MAX_TASK_S):
            raise ProtocolError(f"step {i} ({task}): lead_s and relax_s must be 0 to {MAX_TASK_S:g} s")
        steps.append(Step(task, hold, lead, relax))
    return Protocol(name.strip(), tuple(steps))


def load_protocol(name_or_path: str | Path) -> Protocol:
    """A built-in protocol by name ("standard"), or one from a JSON file (see protocol_from_dict)."""
    if str(name_or_path) in PROTOCOLS:
        return PROTOCOLS[str(name_or_path)]
    path = Path(name_or_path)
    if not path.exists():
        raise ProtocolError(f"no protocol {str(name_or_path)!r}: give a JSON file or one of {', '.join(PROTOCOLS)}")
    try:
        return protocol_from_dict(_load_json(path, "protocol"))
    except ProtocolError as exc:
        raise ProtocolError(f"{path.name}: {exc}") from None


def protocol_as_dict(protocol: Protocol) -> dict:
    return {"name": protocol.name, "steps": [{"task": s.task, "hold_s": s.hold_s, "lead_s": s.lead_s,
                                              "relax_s": s.relax_s} for s in protocol.steps]}


# ---------------------------------------------------------------------------------------------
def record_from_dict(data: dict) -> Record:
    """Validate a record: version 1, known tasks, 0 <= start < end, tasks in time order, no overlap."""
    version = data.get("version", RECORD_VERSION)
    if version != RECORD_VERSION:
        raise ProtocolError(f"protocol record version {version!r} is not supported (this FaceMirror reads "
                            f"version {RECORD_VERSION})")
    name = data.get("protocol", "custom")
    if not isinstance(name, str):
        raise ProtocolError("\"protocol\" must be a name")
    items = data.get("tasks")
    if not isinstance(items, list) or not items:
        raise ProtocolError("a protocol record needs a non-empty list of \"tasks\"")
    tasks: list[TaskTime] = []
    for i, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise ProtocolError(f"task {i} must be an object with \"task\", \"start_s\" and \"end_s\"")
        task = _task_name(item.get("task"), f"task {i}")
        start = _number(item.get("start_s"), f"task {i} ({task}) start_s")
        end = _number(item.get("end_s"), f"task {i} ({task}) end_s")
        if start < 0 or end <= start:
            raise ProtocolError(f"task {i} ({task}) runs {start:g}-{end:g} s; it must start at 0 s or later "
                                "and end after it starts")
        if end - start < MIN_TASK_S:
            raise ProtocolError(f"task {i} ({task}) lasts {end - start:.2f} s; a task needs at least "
                                f"{MIN_TASK_S:g} s")
        if tasks and start < tasks[-1].end_s:
            raise ProtocolError(f"task {i} ({task}) starts at {start:g} s, before task {i - 1} "
                                f"({tasks[-1].task}) ends at {tasks[-1].end_s:g} s; tasks must not overlap "
                                "and must be in time order")
        tasks.append(TaskTime(task, start, end))
    return Record(name, tuple(tasks))


def read_record(path: Path) -> Record:
    try:
        return record_from_dict(_load_json(path, "protocol record"))
    except ProtocolError as exc:
        message = str(exc)
        raise ProtocolError(message if Path(path).name in message else f"{Path(path).name}: {message}") from None


def record_path_for(media: Path) -> Path:
    """Where the record of a recording or of its landmarks CSV lives: NAME_protocol.json beside it."""
    media = Path(media)
    stem = media.stem
    if stem.endswith("_landmarks"):
        stem = stem[: -len("_landmarks")]
    return media.with_name(stem + RECORD_SUFFIX)


def find_record(media: Path) -> Path | None:
    """NAME_protocol.json beside a recording or its NAME_landmarks.csv, if there is one."""
    path = record_path_for(media)
    return path if path.is_file() else None


def write_record(path: Path, record: Record) -> None:
    """Write the record whole or not at all (a temporary file in the same folder, then a rename)."""
    path = Path(path)
    text = json.dumps(record.as_dict(), indent=2) + "\n"
    tmp = temp_path(path)   # the app's temporary pattern, so a crash's leftover is cleaned like the others
    try:
        with open(tmp, "x", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
