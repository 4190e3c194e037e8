"""`main.py live --guided`: a generated clip (PyAV) stands in for the patient; a short protocol runs on
the frames' times, NAME_protocol.json lands beside the finished recording (its times those of frames
in the file), and the processing starts only then. Interruptions and failures leave no record.

The processing itself is replaced by a probe in most tests (the clip has no face; the pipeline is
tested elsewhere); the last test runs it whole on the shared clip when ../shared is present."""
from __future__ import annotations

import errno
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest

import app.live.command as command
import app.live.guided as guided
import app.live.session as session
from app.base import cancel
from app.cli.main import _build_parser
from app.measures.protocol import read_record
from tests.conftest import REPO

FPS = 20
SHORT = {"name": "short", "steps": [{"task": "brow_raise", "hold_s": 0.5, "lead_s": 0.3, "relax_s": 0.3},
                                    {"task": "smile", "hold_s": 0.5, "lead_s": 0.3, "relax_s": 0.3}]}
MEDIA = REPO.parent / "shared" / "media"


def make_clip(path: Path, seconds: float) -> Path:
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=FPS)
        s.width, s.height, s.pix_fmt = 192, 144, "yuv420p"
        for i in range(int(round(seconds * FPS))):
            img = np.full((144, 192, 3), 60, np.uint8)
            img[:, (i * 5) % 182:(i * 5) % 182 + 10] = (0, 200, 255)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return path


def frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        return sorted(round(float(f.time), 3) for f in c.decode(video=0))


@pytest.fixture
def setup(tmp_path, monkeypatch):
    """(run(*extra) -> (code, out, err), processed calls); the processing replaced by a probe that
    notes whether the record was beside the recording when it started."""
    protocol = tmp_path / "short.json"
    protocol.write_text(json.dumps(SHORT))
    calls: list[dict] = []

    def probe(recording, out_dir, models, **kw):
        beside = recording.with_name(recording.stem + "_protocol.json")
        calls.append({"recording": recording, "record_there": beside.exists(), **kw})
        return SimpleNamespace(cancelled=False, ok=True, outputs={}, error=None)

    monkeypatch.setattr(session, "process_recording", probe)

    def run(source: Path, *extra: str, capsys=None):
        args = _build_parser().parse_args(["live", "--source", str(source), "--out", str(tmp_path / "out"),
                                           "--fast", *extra])
        return command.live_command(args)

    return SimpleNamespace(tmp=tmp_path, protocol=protocol, calls=calls, run=run)


def test_the_record_lands_beside_the_recording_on_its_clock_before_processing(setup, capsys):
    clip = make_clip(setup.tmp / "clip.mp4", 3.0)
    assert setup.run(clip, "--guided", "--protocol", str(setup.protocol)) == 0
    out = capsys.readouterr().out
    recording = setup.tmp / "out" / "clip_live.mp4"
    record = read_record(recording.with_name("clip_live_protocol.json"))
    assert record.protocol == "short" and [t.task for t in record.tasks] == ["brow_raise", "smile"]
    times = frame_times(recording)
    step = 1 / FPS
    for task in record.tasks:
        # each boundary is a frame of the recording, each hold its 0.5 s (the frame grid: exact here)
        assert round(task.start_s, 3) in times and round(task.end_s, 3) in times
        assert task.end_s - task.start_s == pytest.approx(0.5, abs=1e-3)
    # by hand: countdown 0-0.3, hold 0.3-0.8, relax to 1.1, countdown to 1.4, hold 1.4-1.9, relax to 2.2
    assert [(t.start_s, t.end_s) for t in record.tasks] == [(0.3, 0.8), (1.4, 1.9)]
    # the recording ends with the protocol, not with the 3 s clip
    assert times[-1] == pytest.approx(2.2, abs=step + 1e-3)
    assert "0.30 s  step 1/2   hold      Raise your eyebrows" in out
    assert "1.40 s  step 2/2   hold      Smile with your lips closed" in out
    assert setup.calls and setup.calls[0]["recording"] == recording and setup.calls[0]["record_there"]


def test_the_standard_protocol_is_the_default(setup, capsys):
    clip = make_clip(setup.tmp / "clip.mp4", 1.0)      # far shorter than the standard exam
    assert setup.run(clip, "--guided") == 0
    captured = capsys.readouterr()
    assert "protocol 'standard', 9 tasks" in captured.out
    assert "before the protocol did: 0 of 9 tasks" in captured.err
    # rest was counted down (2 s) but never held: no record, processed without one
    assert not (setup.tmp / "out" / "clip_live_protocol.json").exists()
    assert setup.calls and not setup.calls[0]["record_there"]


def test_a_source_ending_mid_protocol_records_the_tasks_held_to_their_end(setup, capsys):
    clip = make_clip(setup.tmp / "clip.mp4", 1.6)      # the smile's hold (1.4-1.9) is cut by the end
    assert setup.run(clip, "--guided", "--protocol", str(setup.protocol)) == 0
    assert "1 of 2 tasks were held to their end" in capsys.readouterr().err
    record = read_record(setup.tmp / "out" / "clip_live_protocol.json")
    assert [(t.task, t.start_s, t.end_s) for t in record.tasks] == [("brow_raise", 0.3, 0.8)]


def test_a_bad_protocol_file_is_said_and_nothing_is_recorded(setup, capsys):
    clip = make_clip(setup.tmp / "clip.mp4", 1.0)
    setup.protocol.write_text(json.dumps({"name": "x", "steps": [{"task": "wink", "hold_s": 1}]}))
    assert setup.run(clip, "--guided", "--protocol", str(setup.protocol)) == 2
    assert "unknown task 'wink'" in capsys.readouterr().err
    assert not (setup.tmp / "out").exists() or not any((setup.tmp / "out").iterdir())


def test_an_existing_record_of_that_name_is_never_taken_for_the_new_recording(setup, capsys):
    clip = make_clip(setup.tmp / "clip.mp4", 1.0)
    (setup.tmp / "out").mkdir()
    stale = setup.tmp / "out" / "clip_live_protocol.json"
    stale.write_text('{"protocol": "old", "version": 1, "tasks": [{"task": "smile", "start_s": 5, "end_s": 9}]}')
    assert setup.run(clip) == 2                        # refused, as an existing recording would be
    assert "clip_live_protocol.json already exists" in capsys.readouterr().err
    assert not (setup.tmp / "out" / "clip_live.mp4").exists() and not setup.calls
    assert setup.run(clip, "--overwrite") == 0         # replaced: a plain recording has no record
    assert not stale.exists()
    assert setup.calls and not setup.calls[0]["record_there"]


def test_a_record_that_cannot_be_written_is_said_and_nothing_is_processed(setup, capsys, monkeypatch):
    clip = make_clip(setup.tmp / "clip.mp4", 3.0)

    def full_disk(path, record):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(command, "write_record", full_disk)
    assert setup.run(clip, "--guided", "--protocol", str(setup.protocol)) == 1
    err = capsys.readouterr().err
    assert "protocol record could not be written (No space left on device)" in err
    out = setup.tmp / "out"
    assert (out / "clip_live.mp4").exists()            # the recording is kept, complete
    assert not any(p.name.endswith("_protocol.json") for p in out.iterdir())
    assert not [p for p in out.iterdir() if p.name.startswith(".")]    # no temporary left either
    assert not setup.calls


def test_a_signal_during_the_exam_keeps_the_recording_and_writes_no_record(setup, capsys, monkeypatch):
    clip = make_clip(setup.tmp / "clip.mp4", 3.0)

    class Interrupted(guided.GuidedExam):
        def tick(self, now):
            if now >= 1.0:
                cancel.requested.set()                 # what Ctrl-C does (app.base.cancel's handler)
            return super().tick(now)

    monkeypatch.setattr(guided, "GuidedExam", Interrupted)
    code = setup.run(clip, "--guided", "--protocol", str(setup.protocol))
    assert code == cancel.CANCELLED          # a cancel without a signal number (set directly here)
    out = setup.tmp / "out"
    assert (out / "clip_live.recording.mp4").exists()
    assert sorted(p.name for p in out.iterdir()) == ["clip_live.recording.mp4"]
    assert not setup.calls


@pytest.mark.skipif(not (MEDIA / "press_room_clip.mp4").exists(), reason="needs ../shared/media")
def test_the_guided_command_processes_the_shared_clip_with_its_record(tmp_path):
    protocol = tmp_path / "short.json"
    protocol.write_text(json.dumps(SHORT))
    p = subprocess.run([sys.executable, str(REPO / "main.py"), "live", "--source", str(MEDIA / "press_room_clip.mp4"),
                        "--out", str(tmp_path / "out"), "--fast", "--guided", "--protocol", str(protocol)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    names = {f.name for f in (tmp_path / "out").iterdir()}
    assert {"press_room_clip_live.mp4", "press_room_clip_live_protocol.json",
            "press_room_clip_live_measures.json", "press_room_clip_live_summary.html"} <= names
    record = read_record(tmp_path / "out" / "press_room_clip_live_protocol.json")
    assert [t.task for t in record.tasks] == ["brow_raise", "smile"]
    assert "hold      Raise your eyebrows" in p.stdout


def test_a_protocol_without_guided_is_refused(setup, capsys):
    clip = make_clip(setup.tmp / "clip.mp4", 1.0)
    assert setup.run(clip, "--protocol", str(setup.protocol)) == 2
    assert "--protocol goes with --guided" in capsys.readouterr().err
    assert not (setup.tmp / "out").exists()
