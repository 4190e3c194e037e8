"""The soak of `main.py benchmark soak` (bench/soak.py), compressed (both soaks side by side,
about a minute and a half of wall time on 2 idle cores): the real app in a subprocess under an X
server (our own Xvfb; Qt's offscreen platform only where Xvfb is missing), driven through its own
buttons and actions. The live exam with a file as a 15 fps camera for 20 s with two recordings (each
handed to the main window and processed), and, at the same time, the main window over 6 short
clips in two folders (Start pressed for each). The 30-minute and 200-clip soaks are
`main.py benchmark soak` (docs/performance.md, "Endurance"); this one is the suite's guard. On PySide6 6.12.0 with Python 3.11 (a
reference to None lost per Qt call returning None, issue 31) the windows abort with "Fatal Python
error: none_dealloc" (measured: the main window's soak, as the process ended), and the count of
references to None falls while the live window shows the camera: this test fails (the live
window loses several per camera frame: 722-2,541 in 50 s on a loaded machine, so about 290 or more
in 20 s, against 0-1 on PySide6 6.11.3).

The bounds are generous (a loaded 2-core machine): they catch a process that dies, a traceback, a
thread or descriptor left behind per recording or per file, or memory growing by a frame's worth
per frame; not the noise of allocators. Nothing here waits on a clock: the app's own events (ready,
each file finished, closing) drive the soak; the timeouts are safety nets of many minutes. The
live soak's length is a clock, so how many recordings fit in it depends on the machine's load;
what is asserted is that every Record press gave a recording and each was processed.
"""
from __future__ import annotations

import os
import sys
import threading

import pytest

from bench import soak

pytestmark = pytest.mark.slow

LIVE_SECONDS = 20.0
# The camera at 15 frames a second, as many webcams run in a dim room (`benchmark soak` uses 30):
# the live window's work, and so this test's CPU time, goes with the frames it is given. 300 frames
# in 20 s still lose hundreds of references to None on PySide6 6.12.0 (several per frame), and a
# 640x480 frame kept per frame would grow memory by ~800 MB/min, far past RSS_SLOPE_MB_PER_MIN.
CAMERA_FPS = 15.0
RECORD_EVERY = 8.0           # Record at 4 and 12 s, each for 3 s: two recordings (a third would end past 20 s)
RECORD_SECONDS = 3.0
CLIPS = 6
PER_FOLDER = 3               # two folders: Start pressed twice, each queue run to its end

# Threads and descriptors at close beyond those at start (both idle moments). With 6 files a leak
# of 2 or more per file exceeds them (12 > 10), as with the 8 files this soak had before: a leak of
# one per file is below them either way (the 200-clip `benchmark soak main` is the guard for that).
THREADS_MORE = 10
FDS_MORE = 10
RSS_SLOPE_MB_PER_MIN = 300.0  # a 640x480 frame kept per frame would be ~800 MB/min at 15 frames a second
# references to None below their count when the window was ready: PySide6 6.11.3 measured 0-1 here
# (eight soaks); 6.12.0 loses one per Qt call returning None, several per camera frame (issue 31):
# 722 in the live soak's 50 s on a machine so loaded that the window drew a few frames a second
# (289 in 20 s at that rate, nearly three times this bound), 2,541 in another 50 s run
NONE_REFS_FALL = 100


@pytest.fixture(scope="module")
def soaks(tmp_path_factory):
    work = tmp_path_factory.mktemp("soak")
    image, _ = soak.face_image(None, work)
    display = soak.open_display(os.environ.get("FACEMIRROR_SOAK_DISPLAY"))
    results: dict[str, dict] = {}

    def live():
        results["live"] = soak.soak_live(work, display, image, LIVE_SECONDS / 60.0, RECORD_EVERY, RECORD_SECONDS,
                                         interval=1.0, fps=CAMERA_FPS)

    def main():
        results["main"] = soak.soak_main(work, display, image, CLIPS, per_folder=PER_FOLDER, interval=1.0)

    try:
        # side by side, as a clinic runs a live exam while a folder is processed: half the wall time
        threads = [threading.Thread(target=f) for f in (live, main)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        display.stop()
    report = {"machine": soak.machine_state(), "display": display.text, "pyside6": soak._pyside_version(None),
              "image": str(image), "soaks": [results[k] for k in ("live", "main") if k in results]}
    soak.print_table(report)                     # shown with -s or on failure: the figures behind the verdict
    return results


@pytest.mark.parametrize("kind", ["live", "main"])
def test_the_window_survives_and_closes_cleanly(soaks, kind):
    r = soaks[kind]
    assert not r["fatal"], f"{kind}: fatal error or traceback:\n" + "\n".join(r["fatal"])
    assert r["exit_code"] == 0, f"{kind}: exit code {r['exit_code']} ({r['exit_signal']})"
    assert not r["timed_out"] and r["closed_cleanly"], f"{kind}: did not finish and close: {r['problems']}"


def test_every_recording_is_handed_over_and_processed(soaks):
    r = soaks["live"]
    # two presses planned; the second needs the GUI thread to reach 12 s before 17 s, so a loaded
    # machine may fit only one: every press must have given a recording either way
    assert r["record_clicks"] >= 1 and r["recordings"] == r["record_clicks"], r["problems"]
    # each recording reached the main window's queue and ran to an end (a recording with too few
    # frames for a face may fail: that is a result, not a lost recording)
    assert r["files_queued"] == r["recordings"]
    assert r["files_processed"] + r["files_failed"] == r["recordings"]
    assert r["files_processed"] >= 1, r["problems"]


def test_every_clip_is_processed(soaks):
    r = soaks["main"]
    assert r["files_queued"] == CLIPS
    assert r["files_processed"] == CLIPS, r["problems"]


@pytest.mark.parametrize("kind", ["live", "main"])
def test_no_thread_descriptor_or_memory_growth(soaks, kind):
    r = soaks[kind]
    assert r["threads_end"] <= r["threads_start"] + THREADS_MORE, (r["thread_names_start"], r["thread_names_end"])
    assert r["fds_end"] <= r["fds_start"] + FDS_MORE, (r["fds_start"], r["fds_end"])
    assert r["samples"] >= 3, "too few samples after the warm-up to tell a slope"
    assert r["rss_slope_mb_per_min"] < RSS_SLOPE_MB_PER_MIN, r["rss_slope_mb_per_min"]


@pytest.mark.parametrize("kind", ["live", "main"])
def test_no_reference_to_none_is_lost(soaks, kind):
    """The mechanism of issue 31's aborts, seen before the count reaches zero: a run that ends
    before the abort still shows None's reference count falling while the window works."""
    r = soaks[kind]
    if sys.version_info >= (3, 12):
        pytest.skip("None is immortal on this Python (3.12+): no reference to it can be lost")
    # on 3.11 a missing count means the soak never reported a tick: it died or never got ready
    assert r["none_refs_ready"] is not None, (f"{kind}: no reference count of None was reported (exit code "
                                              f"{r['exit_code']}, {r['exit_signal']}): {r['fatal']} {r['problems']}")
    fall = r["none_refs_ready"] - r["none_refs_min"]
    assert fall <= NONE_REFS_FALL, f"{kind}: {fall} references to None lost while the window ran"
