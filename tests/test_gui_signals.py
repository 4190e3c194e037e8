"""Signals to the window mid-run (a real process, real signals): it quits, the running file is
cancelled and leaves no partial file, and the process exits 128 + the signal (130 for Ctrl-C in the
launching terminal, 143 for SIGTERM, 129 for SIGHUP)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests import videos
from tests.conftest import MEDIA, REPO, _need


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    base = videos.portrait_base(_need(MEDIA / "portrait_frontal.jpg"), width=240)
    h, w = base.shape[:2]
    _, frames = videos.transformed_frames(base, videos.transform_sequence(900, 4.0, 4.0, 0.02), (w / 2, h * 0.4))
    return videos.write_video(tmp_path_factory.mktemp("clip") / "long.mp4", frames)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signal_mid_run_quits_cleanly_and_leaves_nothing(tmp_path, detector_only_weights, long_clip, sig):
    out = tmp_path / "out"
    env = dict(os.environ, FACEMIRROR_WEIGHTS_DIR=str(detector_only_weights), QT_QPA_PLATFORM="offscreen")
    proc = subprocess.Popen([sys.executable, "tests/gui_signal_script.py", str(long_clip), str(out)], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []                                   # one pipe for both streams: an unread one would fill up
    while not seen or "PROCESSING" not in seen[-1]:
        seen.append(proc.stdout.readline())
        assert seen[-1] or proc.poll() is None, "".join(seen)
    assert any(p.name.startswith(".") for p in out.iterdir())      # partial files exist now
    proc.send_signal(sig)
    rest, _ = proc.communicate(timeout=120)
    output = "".join(seen) + rest
    assert proc.returncode == 128 + sig, output[-2000:]
    assert "Traceback" not in output
    assert list(out.iterdir()) == []                                # nothing published, no partial left
