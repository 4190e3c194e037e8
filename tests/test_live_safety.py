"""The `live` command and the recorder keep the exam's data (issue 31): a kept interrupted
recording (NAME.recording.mp4) is never written over by a rerun; a signal while recording or while
processing ends the command with 128 + the signal's number and one line, the recording kept and no
partial output left; a write that fails while recording (a full disk) is one sentence and the part
recorded stays playable; the recording's length is measured against the time it ran.

Signals are sent only after the child has said that it reached the phase (a line on its output);
the processing-phase child holds its analysis until the signal has arrived, so the signal always
lands in the pipeline, never before or after it."""
from __future__ import annotations

import errno
import hashlib
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from app.live.recorder import PARTIAL_SUFFIX, Recorder, RecorderThread, trim_to_whole_fragments
from app.live.sources import SyntheticSource
from app.live.timing import RecordingTiming
from tests.conftest import REPO

OUTPUT_SUFFIXES = ("_annotated.mp4", "_left_mirrored.mp4", "_right_mirrored.mp4", "_landmarks.csv", "_report.json",
                   "_measures.json", "_measures.csv", "_summary.html")


def _clip(path: Path, seconds: float, fps: int = 10, size=(160, 120)) -> Path:
    """A moving pattern (no face), made here with PyAV."""
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = size[0], size[1], "yuv420p"
        s.options = {"preset": "ultrafast"}
        for img, _ in SyntheticSource(size, fps=fps, seconds=seconds).frames():
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return path


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    return _clip(tmp_path_factory.mktemp("clips") / "exam.mp4", 40.0)


def _decoded(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        return [float(f.time) for f in c.decode(video=0)]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _start(args: list[str], script: str | None = None) -> subprocess.Popen:
    cmd = [sys.executable, "-c", script] if script else [sys.executable, str(REPO / "main.py")]
    return subprocess.Popen(cmd + args, cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_line(proc: subprocess.Popen, text: str, timeout: float = 180.0) -> list[str]:
    """Read the child's output until a line holds ``text`` (its readiness signal)."""
    assert proc.stdout is not None
    seen: list[str] = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([proc.stdout], [], [], 1.0)
        if ready:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if text in line:
                return seen
    proc.kill()
    raise AssertionError(f"no line with {text!r} from the child: {seen} {proc.stderr.read() if proc.stderr else ''}")


def _finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


# ---- the recorder ---------------------------------------------------------------------------------

def test_a_recorder_never_writes_over_a_kept_interrupted_recording(tmp_path):
    final = tmp_path / "exam.mp4"
    kept = tmp_path / ("exam" + PARTIAL_SUFFIX)
    rec = Recorder(final, (320, 240), 30.0)
    for img, t in SyntheticSource((320, 240), fps=30.0, seconds=1.5).frames():
        rec.write(img, t)
    rec.close_partial()                               # an interrupted exam: the part is kept
    before = _sha(kept)
    with pytest.raises(FileExistsError, match="never written over"):
        Recorder(final, (320, 240), 30.0)
    with pytest.raises(FileExistsError):
        RecorderThread(final, (320, 240), 30.0)
    assert _sha(kept) == before and len(_decoded(kept)) == 45 and not final.exists()


def test_a_completed_recording_replaces_an_earlier_one_only_when_complete(tmp_path):
    final = tmp_path / "exam.mp4"
    final.write_bytes(b"the earlier recording")
    rec = Recorder(final, (320, 240), 30.0)
    assert final.read_bytes() == b"the earlier recording"      # untouched while the new one records
    for img, t in SyntheticSource((320, 240), fps=30.0, seconds=0.5).frames():
        rec.write(img, t)
    with pytest.raises(FileExistsError):
        rec.finish()                                           # without replace: refused, part kept
    assert final.read_bytes() == b"the earlier recording" and rec.partial.exists()


def test_replace_puts_the_new_recording_in_place_at_the_end(tmp_path):
    final = tmp_path / "exam.mp4"
    final.write_bytes(b"the earlier recording")
    rec = Recorder(final, (320, 240), 30.0)
    for img, t in SyntheticSource((320, 240), fps=30.0, seconds=0.5).frames():
        rec.write(img, t)
    assert rec.finish(replace=True) == final and len(_decoded(final)) == 15 and not rec.partial.exists()


class FullDisk:
    """Stands in for the recorder's output container at the write layer: after ``good`` packets
    every write fails as a full disk does (OSError ENOSPC), as do the flush and the close."""

    def __init__(self, container, good: int):
        self._c, self._left = container, good

    def mux(self, packet):
        if self._left <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        self._left -= 1
        return self._c.mux(packet)

    def close(self):
        self._c.close()
        if self._left <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")


def test_recording_with_an_injected_enospc_write_stops_with_one_sentence_and_keeps_the_part(tmp_path, monkeypatch):
    from app.live import recorder as recorder_module
    from app.live.recorder import RecordingFailed
    from app.live.session import record
    from app.engine.model_set import Models

    real_init = Recorder.__init__

    def full_after_two_seconds(self, *a, **kw):
        real_init(self, *a, **kw)
        self._container = FullDisk(self._container, good=60)   # about 2 s of packets, then a full disk

    monkeypatch.setattr(recorder_module.Recorder, "__init__", full_after_two_seconds)
    with pytest.raises(RecordingFailed) as failed:
        record(SyntheticSource((320, 240), fps=30.0, seconds=6.0), Models.load(threads=1), tmp_path / "exam.mp4")
    text = str(failed.value)
    kept = tmp_path / ("exam" + PARTIAL_SUFFIX)
    assert "\n" not in text and "disk is full" in text and str(kept) in text and "playable" in text
    assert not (tmp_path / "exam.mp4").exists() and sorted(p.name for p in tmp_path.iterdir()) == [kept.name]
    times = _decoded(kept)                                       # plays to its end without an error
    assert len(times) >= 30 and times[-1] <= 2.1


def test_a_torn_last_fragment_is_cut_back_to_the_last_whole_one(tmp_path):
    rec = Recorder(tmp_path / "exam.mp4", (320, 240), 30.0)
    for img, t in SyntheticSource((320, 240), fps=30.0, seconds=3.0).frames():
        rec.write(img, t)
    path = rec.close_partial()
    whole = path.stat().st_size
    assert trim_to_whole_fragments(path) == 0                    # nothing torn: nothing cut
    with open(path, "r+b") as f:
        f.truncate(whole - 500)                                  # the disk filled up in the last fragment
    with pytest.raises(av.error.InvalidDataError):
        _decoded(path)
    assert trim_to_whole_fragments(path) > 0
    times = _decoded(path)
    assert 30 <= len(times) < 90 and np.allclose(np.diff(times), 1 / 30, atol=0.002)


def test_a_file_torn_inside_a_64_bit_box_size_is_cut_not_a_crash(tmp_path):
    """A full disk can stop a write inside a box header whose size is 64-bit (size field 1): the
    size's 8 bytes are not all there. That box is torn like any other (it raised struct.error, which
    escaped close_partial's OSError handling after a failed write)."""
    rec = Recorder(tmp_path / "exam.mp4", (320, 240), 30.0)
    for img, t in SyntheticSource((320, 240), fps=30.0, seconds=1.0).frames():
        rec.write(img, t)
    path = rec.close_partial()
    whole = path.stat().st_size
    with open(path, "ab") as f:
        f.write((1).to_bytes(4, "big") + b"mdat" + b"\x00\x00\x00")    # 3 of the 8 size bytes
    assert trim_to_whole_fragments(path) == 11 and path.stat().st_size == whole
    assert len(_decoded(path)) == 30


def test_the_recording_timing_counts_lost_frames_from_known_times():
    fps = 30.0
    every = [i / fps for i in range(90)]
    ok = RecordingTiming.of(3.0, every, fps)
    assert ok.lost_frames == 0 and not ok.frames_were_lost and ok.sentence() == ""
    slow = RecordingTiming.of(3.0, every[:22], fps)               # the camera slowed by a busy computer
    assert slow.expected_frames == 90 and slow.lost_frames == 68 and slow.recorded_s == pytest.approx(22 / 30, abs=0.001)
    assert "0.7 s of the 3.0 s" in slow.sentence() and "68 of about 90 frames are missing" in slow.sentence()
    holes = RecordingTiming.of(3.0, every[::3], fps)              # every third frame: holes of 2
    assert holes.gap_frames == 58 and holes.lost_frames == 60 and holes.frames_were_lost
    assert not RecordingTiming.of(3.0, every[:88], fps).frames_were_lost     # Record/Stop between frames


# ---- the command ----------------------------------------------------------------------------------

def test_a_rerun_after_an_interrupted_exam_keeps_its_recording_and_records_under_a_new_name(tmp_path, long_clip):
    out = tmp_path / "out"
    proc = _start(["live", "--source", str(long_clip), "--out", str(out)])
    _wait_for_line(proc, "the first frame is in")
    proc.send_signal(signal.SIGTERM)
    code, _, err = _finish(proc)
    kept = out / ("exam_live" + PARTIAL_SUFFIX)
    assert code == 143 and "Traceback" not in err, err
    assert err.strip().count("\n") == 0 and "stopped by SIGTERM" in err and str(kept) in err
    assert kept.exists() and len(_decoded(kept)) >= 1 and sorted(p.name for p in out.iterdir()) == [kept.name]
    before = _sha(kept)

    for n, extra in ((2, []), (3, ["--overwrite"])):     # --overwrite replaces outputs, never the kept part
        p = subprocess.run([sys.executable, str(REPO / "main.py"), "live", "--source", str(long_clip), "--out",
                            str(out), "--seconds", "1", "--fast", *extra], capture_output=True, text=True,
                           timeout=300, cwd=str(REPO))
        assert "Traceback" not in p.stderr, p.stderr
        assert _sha(kept) == before                                # the interrupted exam is untouched
        assert f"{kept.name} (an earlier, interrupted recording) is kept" in p.stderr
        new = out / f"exam_live_{n}.mp4"
        assert f"this recording is {new.name}" in p.stderr and new.exists()
        assert len(_decoded(new)) == 11 and not (out / (new.stem + PARTIAL_SUFFIX)).exists()
    # (the pattern has no face, so its processing says so: what matters here is the recordings)


PROCESSING_CHILD = """
import sys, threading
sys.path.insert(0, {repo!r})
from app.base import cancel
from app.pipeline.stages import analysis
real = analysis.FrameAnalyzer.analyze
def held(self, vf):
    if self.frames == 3:
        print("TEST: inside the pipeline", flush=True)
        cancel.requested.wait(120)          # the pipeline is mid-file (outputs open) when the signal lands
    return real(self, vf)
analysis.FrameAnalyzer.analyze = held
from app.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)])
def test_a_signal_while_processing_exits_128_plus_n_keeps_the_recording_and_leaves_no_output(
        tmp_path, long_clip, sig, code):
    out = tmp_path / "out"
    proc = _start(["live", "--source", str(long_clip), "--out", str(out), "--seconds", "2", "--fast"],
                  script=PROCESSING_CHILD.format(repo=str(REPO)))
    lines = _wait_for_line(proc, "TEST: inside the pipeline")
    assert any(line.startswith("processing exam_live.mp4") for line in lines)
    proc.send_signal(sig)
    rc, _, err = _finish(proc)
    assert rc == code and "Traceback" not in err and "Interrupted" not in err, err
    assert err.strip().count("\n") == 0 and f"stopped by {sig.name} while processing" in err
    assert "no outputs were written" in err
    names = sorted(p.name for p in out.iterdir())                  # hidden temporary files included
    assert names == ["exam_live.mp4"] and len(_decoded(out / "exam_live.mp4")) == 21


def test_a_file_too_large_for_the_system_while_recording_is_one_sentence_and_the_part_plays(tmp_path, long_clip):
    """The real write path (FFmpeg's own file writes) failing: the file-size limit of the process
    (RLIMIT_FSIZE) makes the kernel refuse a write past it, as a full disk refuses one."""
    import resource

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)       # a failed write (EFBIG), not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (60_000, 60_000))

    big = _clip(tmp_path / "big.mp4", 8.0, fps=30, size=(640, 360))
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, str(REPO / "main.py"), "live", "--source", str(big), "--out", str(out),
                        "--fast"], capture_output=True, text=True, timeout=300, cwd=str(REPO), preexec_fn=limit)
    kept = out / ("big_live" + PARTIAL_SUFFIX)
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
    assert p.stderr.strip().count("\n") == 0 and "The recording stopped after" in p.stderr
    assert str(kept) in p.stderr and "playable" in p.stderr
    assert sorted(f.name for f in out.iterdir()) == [kept.name]
    times = _decoded(kept)                                     # to its end, no decoding error
    assert len(times) >= 10 and np.allclose(np.diff(times), 1 / 30, atol=0.002)


def test_the_session_result_says_when_the_computer_was_too_slow_for_the_camera(tmp_path):
    """A file played as the camera in real time, each frame taking 0.1 s to show (a computer
    three times too slow for 30 fps): the recording holds a third of the time the exam ran, and
    the session's figures and sentence say so; faster than the camera they say nothing."""
    from app.live.session import record
    from app.engine.model_set import Models

    models = Models.load(threads=1)
    src = SyntheticSource((160, 120), fps=30.0, seconds=1.0, realtime=True)
    _, stats = record(src, models, tmp_path / "slow.mp4", on_panes=lambda *a: time.sleep(0.1))
    figures = stats.as_dict()
    assert figures["held_s"] >= 2.9 and figures["recorded_s"] == pytest.approx(1.0, abs=0.01)
    assert figures["recorded_frames_lost"] >= 55 and stats.timing.frames_were_lost
    assert figures["frames_lost_note"].startswith("Recorded 1.0 s of the ")
    _, fine = record(SyntheticSource((160, 120), fps=30.0, seconds=1.0), models, tmp_path / "ok.mp4")
    assert fine.timing.frames == 30 and not fine.timing.frames_were_lost and fine.as_dict()["frames_lost_note"] is None
