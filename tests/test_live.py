"""Live mode core with file-backed and synthetic frame sources (no camera here): every frame is
recorded with its time, the panes never wait for the landmark model, a crash mid-recording
leaves a playable file, and `main.py live` produces the usual outputs."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from app.live.session import record
from app.live.sources import SyntheticSource
from app.engine.model_set import Models
from tests.conftest import REPO

MEDIA = REPO.parent / "shared" / "media"


@pytest.fixture(scope="module")
def models():
    return Models.load(threads=1)


def _decoded_times(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        return [float(f.time) for f in c.decode(video=0)]


def test_synthetic_source_recording_has_every_frame_with_its_time(tmp_path, models):
    src = SyntheticSource((320, 240), fps=30.0, seconds=2.0)
    final, stats = record(src, models, tmp_path / "exam.mp4")
    times = _decoded_times(final)
    assert len(times) == 60 == stats.frames and stats.as_dict()["recorded_frames_dropped"] == 0
    rel = np.array(times) - times[0]
    assert np.allclose(rel, np.arange(60) / 30.0, atol=0.002)      # capture times kept (ms time base)
    assert not (tmp_path / "exam.recording.mp4").exists()


def test_panes_are_never_queued_behind_a_slow_landmark_model(tmp_path, models, slow_landmarks):
    shown = []
    src = SyntheticSource((320, 240), fps=30.0, seconds=2.0, realtime=True)
    _, stats = record(src, models, tmp_path / "exam.mp4", on_panes=lambda o, le, r, t: shown.append(t))
    assert len(shown) == 60                                   # every frame shown
    assert stats.landmark_runs <= 10                          # the model saw only the newest frames
    assert np.percentile(stats.latencies_ms, 95) < 50         # and the display never waited for it


CRASH = """
import os, sys
sys.path.insert(0, {repo!r})
from pathlib import Path
from app.live.session import record
from app.live.sources import SyntheticSource
from app.engine.model_set import Models
def crash(o, l, r, t):
    if t >= 2.5:
        os._exit(9)                  # a hard crash: no clean-up of any kind
# at the camera's pace, as a camera gives frames (the encoder has its own thread: a source faster
# than real time would crash with frames still queued for it, which no camera does)
record(SyntheticSource((320, 240), 30.0, 5.0, realtime=True), Models.load(threads=1), Path({out!r}), on_panes=crash)
"""


def test_a_crash_during_recording_leaves_a_playable_file(tmp_path):
    out = tmp_path / "exam.mp4"
    p = subprocess.run([sys.executable, "-c", CRASH.format(repo=str(REPO), out=str(out))], timeout=120)
    assert p.returncode == 9
    partial = tmp_path / "exam.recording.mp4"
    assert partial.exists() and not out.exists()
    times = _decoded_times(partial)
    assert len(times) >= 60            # all but (at most) the last second before the crash


@pytest.mark.skipif(not (MEDIA / "press_room_clip.mp4").exists(), reason="needs ../shared/media")
def test_live_command_records_and_processes_like_a_dropped_file(tmp_path):
    p = subprocess.run([sys.executable, str(REPO / "main.py"), "live", "--source", str(MEDIA / "press_room_clip.mp4"),
                        "--out", str(tmp_path), "--seconds", "3", "--fast", "--patient", "P-1"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    names = sorted(f.name for f in tmp_path.iterdir())
    for suffix in ("_annotated.mp4", "_left_mirrored.mp4", "_right_mirrored.mp4", "_landmarks.csv",
                   "_report.json", "_measures.json", "_measures.csv", "_summary.html"):
        assert f"press_room_clip_live{suffix}" in names, suffix
    assert "press_room_clip_live.mp4" in names
    import json
    report = json.loads((tmp_path / "press_room_clip_live_report.json").read_text())
    assert report["subject"]["patient"] == "P-1" and report["frames"]["processed"] >= 80


def test_recorder_thread_keeps_every_frame_with_its_time(tmp_path):
    from app.live.recorder import RecorderThread

    rec = RecorderThread(tmp_path / "exam.mp4", (320, 240), 30.0)
    for img, t in SyntheticSource((320, 240), fps=30.0, seconds=1.0).frames():
        rec.write(img, t)                      # never waits for the encoder
    final = rec.finish()
    times = np.array(_decoded_times(final))
    assert len(times) == 30 and np.allclose(times - times[0], np.arange(30) / 30.0, atol=0.002)
    assert not rec.partial.exists()


def test_rest_window_runs_from_the_mark_and_is_cut_at_the_last_frame():
    from app.live.session import rest_window

    assert rest_window(None, 10.0) is None
    assert rest_window(2.0, 10.0) == (2.0, 3.5)
    assert rest_window(2.0, 3.0) == (2.0, 3.0)          # stopped 1 s after the mark: 1 s of rest
    assert rest_window(2.0, 2.2) is None                # too little: the measures find the rest themselves


def test_the_recorder_keeps_the_sound_in_step_with_the_frames(tmp_path):
    from app.live.recorder import RecorderThread

    rate = 48000
    rec = RecorderThread(tmp_path / "exam.mp4", (320, 240), 30.0, audio=(rate, 1))
    tone = (np.sin(2 * np.pi * 440 * np.arange(rate * 3) / rate) * 8000).astype(np.int16)
    for i, (img, t) in enumerate(SyntheticSource((320, 240), fps=30.0, seconds=2.0).frames()):
        rec.write(img, t)
        if i % 3 == 0 and i >= 15:             # the microphone starts 0.5 s late, 0.1 s chunks; one chunk lost
            start = int(round(t * rate))
            if i != 30:
                rec.write_audio(tone[start:start + rate // 10], t)
    final = rec.finish()
    with av.open(str(final)) as c:
        assert c.streams.audio[0].codec_context.name == "aac"
        frames = list(c.decode(audio=0))
    pcm = np.concatenate([f.to_ndarray().reshape(-1) for f in frames])
    loud = np.flatnonzero(np.abs(pcm) > 0.1)                     # decoded as float in [-1, 1]
    assert abs(loud[0] / rate - 0.5) < 0.05                      # silence until the microphone started
    assert abs(len(pcm) / rate - 2.0) < 0.1                      # ... and the sound lasts as the frames
    lost = np.abs(pcm[int(1.04 * rate):int(1.09 * rate)])      # (AAC adds ~21 ms of priming in front)
    assert lost.max() < 0.05 and np.abs(pcm[int(1.12 * rate):int(1.18 * rate)]).max() > 0.1   # the lost chunk: silence
    assert len(_decoded_times(final)) == 60
