"""No data loss, as a careful user meets it: real files and folders, a real `python main.py process`
subprocess, real signals, a real (tmpfs) file system that fills up. README "Guarantees"."""
from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.base.outputs import parse_temp_name, temp_name
from tests import videos
from tests.cli_runs import ALL, UNMEASURED, copy_results, files, hidden, names, wait_for_progress
from tests.cli_runs import process_cli as cli
from tests.cli_runs import start_process_cli as start_cli
from tests.conftest import MEDIA, REPO, _need
from tests.ready_child import start_main


@pytest.fixture(scope="module")
def weights(retinaface_model):
    return retinaface_model.parent


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """a: 8 frames (a full set of outputs, measures and summary included); tiny/a, tiny/b: 2 frames
    (nothing to measure, so a run skips the 2.5 CPU s of charts and PDF: the tests of which files are
    written, kept or refused, whatever files they are); mid: 40 frames, a run to stop in the middle;
    long: 150 frames, a run that is still going when a signal or a full disk reaches it."""
    base = videos.portrait_base(_need(MEDIA / "portrait_frontal.jpg"), width=240)
    h, w = base.shape[:2]
    folder = tmp_path_factory.mktemp("clips")
    (folder / "tiny").mkdir()

    def clip(name, n, seed):
        params = videos.transform_sequence(n, 6.0, 6.0, 0.03)
        _, frames = videos.transformed_frames(base, params, (w / 2, h * 0.4), noise_sigma=2.0, seed=seed)
        return videos.write_video(folder / name, frames)

    return {"a": clip("a.mp4", 8, 1), "tiny_a": clip("tiny/a.mp4", 2, 1),
            "tiny_b": clip("tiny/b.mp4", 2, 2), "mid": clip("mid.mp4", 40, 4), "long": clip("long.mp4", 150, 3)}


@pytest.fixture(scope="module")
def a_results(tmp_path_factory, weights, clips) -> Path:
    """The folder of one real run over clip a: its full set (a_*), copied wherever a test needs the
    results of an earlier run (a run of its own would compute the same files again)."""
    out = tmp_path_factory.mktemp("a_results")
    proc = cli([clips["a"], "--out", out], weights)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(files(out)) == names("a")
    return out


def summary_lines(stdout: str) -> list[str]:
    text = stdout[stdout.index("\nfile "):]
    return [line for line in text.splitlines()[2:] if line.strip() and "succeeded" not in line]


# ---- collisions, folders, own outputs ------------------------------------------------------------

def test_folder_batch_with_the_same_names_keeps_folders_and_refuses_what_would_collide(tmp_path, weights, clips):
    visits = tmp_path / "visits"
    for rel, src in (("visit1/smile.mp4", "tiny_a"), ("visit2/smile.mp4", "tiny_b"), ("visit1/smile.mov", "tiny_b")):
        (visits / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(clips[src], visits / rel)
    out = tmp_path / "out"
    proc = cli([visits, "--out", out, "--overwrite"], weights)
    print(proc.stdout, proc.stderr)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    # visit2's smile.mp4 is processed into out/visits/visit2; the two visit1 files would write the
    # same names, so neither is processed (nothing starts for them), and the summary tells them apart
    assert sorted(files(out)) == names("visits/visit2/smile", UNMEASURED)
    lines = summary_lines(proc.stdout)
    labels = [line.split()[0] for line in lines]
    assert sorted(labels) == ["visit1/smile.mov", "visit1/smile.mp4", "visit2/smile.mp4"]
    assert all("failed" in line and "same names" in line for line in lines if line.startswith("visit1/"))
    assert "1 of 3 succeeded" in proc.stdout


def test_rerunning_a_folder_without_out_never_takes_the_outputs_as_inputs(tmp_path, weights, clips, a_results):
    folder = tmp_path / "patient"
    folder.mkdir()
    shutil.copy(clips["tiny_a"], folder / "patient.mp4")
    copy_results(a_results, "a", folder, "patient")      # a first run's full set beside the input
    again = cli([folder, "--overwrite"], weights)
    assert again.returncode == 0, again.stderr
    assert "skipped 3 FaceMirror output files" in again.stdout      # the three videos of the first run
    assert "1 of 1 succeeded" in again.stdout
    # the new set replaced the whole old one (the 2-frame rerun has nothing to measure: no stale measures)
    assert sorted(files(folder)) == sorted(["patient.mp4"] + names("patient", UNMEASURED))


def test_overwrite_without_annotated_leaves_no_stale_annotated_video(tmp_path, weights, clips, a_results):
    out = tmp_path / "out"
    other = tmp_path / "second" / "a.mp4"          # another recording with the same name
    other.parent.mkdir()
    shutil.copy(clips["tiny_b"], other)
    copy_results(a_results, "a", out)              # the first recording's full set
    proc = cli([other, "--out", out, "--overwrite", "--no-annotated"], weights)
    assert proc.returncode == 0, proc.stderr
    # nothing stale: no annotated video, and no measures of the first recording beside the second's report
    assert sorted(files(out)) == names("a", [s for s in UNMEASURED if s != "_annotated.mp4"])
    report = json.loads((out / "a_report.json").read_text())
    assert report["input"]["file"] == str(other)


def test_overwrite_when_one_old_file_cannot_be_replaced_keeps_the_whole_old_set(tmp_path, weights, clips, a_results):
    out = tmp_path / "out"
    copy_results(a_results, "a", out)              # an earlier run's full set
    before = files(out)
    locked = out / "a_landmarks.csv"
    if subprocess.run(["chattr", "+i", str(locked)], capture_output=True, check=False).returncode != 0:
        pytest.skip("chattr +i is not possible here (needs root and a file system with the flag)")
    other = tmp_path / "second" / "a.mp4"
    other.parent.mkdir()
    shutil.copy(clips["tiny_b"], other)
    try:
        proc = cli([other, "--out", out, "--overwrite"], weights)
    finally:
        subprocess.run(["chattr", "-i", str(locked)], check=False)
    assert proc.returncode == 1
    assert "a_landmarks.csv" in proc.stderr and "earlier results were left as they were" in proc.stderr
    assert files(out) == before                    # every old file, byte for byte; nothing hidden left


def test_a_220_byte_file_name_works(tmp_path, weights, clips):
    name = "ü" * 110 + ".mp4"                      # 220 bytes of name before the extension
    assert len(os.fsencode(name)) == 224
    # a clip with nothing to measure: temporary names do not depend on the name (app.base.outputs), and
    # the longest final name, NAME_right_mirrored.mp4, is among the files it writes
    shutil.copy(clips["tiny_a"], tmp_path / name)
    proc = cli([tmp_path / name, "--out", tmp_path / "out"], weights)
    assert proc.returncode == 0, proc.stderr
    assert sorted(files(tmp_path / "out")) == names(name[:-4], UNMEASURED) and not hidden(tmp_path / "out")


# ---- signals ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_cancel_exactly_like_ctrl_c(tmp_path, weights, clips, sig):
    out = tmp_path / "out"
    proc = start_cli([clips["long"], clips["a"], "--out", out], weights)
    wait_for_progress(proc)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, stderr          # 143 / 129: what a scheduler expects
    assert "Traceback" not in stdout + stderr
    lines = summary_lines(stdout)
    assert [line.split()[:2] for line in lines] == [["long.mp4", "cancelled"], ["a.mp4", "cancelled"]]
    assert files(out) == {}                        # no output, no partial file


def test_a_killed_run_leaves_partials_that_the_next_run_removes_and_reports(tmp_path, weights, clips):
    out = tmp_path / "out"
    proc = start_cli([clips["long"], "--out", out], weights)
    wait_for_progress(proc)
    proc.kill()
    proc.wait()
    left = hidden(out)
    assert left and all(parse_temp_name(n)[1] == proc.pid for n in left)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        running = out / temp_name("partial", ".mp4", pid=sleeper.pid)     # a run still going: kept
        running.write_text("x")
        mine = out / "notes.partial.txt"                                     # the user's: kept
        mine.write_text("x")
        again = cli([clips["tiny_a"], "--out", out], weights)
        assert again.returncode == 0, again.stderr
        assert re.search(rf"removed {len(left)} partial files? left in {re.escape(str(out))} by an interrupted "
                         rf"run \(process {proc.pid}\)", again.stdout), again.stdout
        assert sorted(files(out)) == sorted([running.name, mine.name] + names("a", UNMEASURED))
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("delay", [0.0, 0.15, 0.3, 0.5, 0.8, 1.2, 2.0])
def test_ctrl_c_at_any_moment_of_start_up_exits_cleanly(tmp_path, weights, clips, delay, sig):
    """The signal lands `delay` seconds after main.py began loading the app (tests/ready_child.py:
    never while the interpreter itself starts, a moment no code of ours can handle)."""
    out = tmp_path / "out"
    proc = start_main(["process", clips["long"], "--out", out], env=dict(os.environ, FACEMIRROR_WEIGHTS_DIR=str(weights)))
    time.sleep(delay)                              # picks the moment; every outcome below is checked
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    assert "Traceback" not in stdout + stderr and "KeyboardInterrupt" not in stderr, stderr
    if proc.returncode == 128 + sig:               # cancelled: said so, nothing written (130 / 143)
        assert "cancelled" in stdout + stderr and files(out) == {}
    elif "1 of 1 succeeded" in stdout:             # finished first (the signal may then end the exiting process)
        assert proc.returncode in (0, -sig) and len(files(out)) == len(ALL) and not hidden(out)
    else:                                          # SIGTERM before `process` installed its handlers: its default
        assert sig == signal.SIGTERM and proc.returncode == -sig and files(out) == {}     # action, nothing written


# ---- a disk that fills up while writing ----------------------------------------------------------

def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir()
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, check=False).returncode == 0


def _fill(folder: Path) -> Path:
    """Fill the file system to the last byte (unbuffered, so every failed write is seen here)."""
    filler = folder / "filler.bin"
    with open(filler, "wb", buffering=0) as fh:
        for size in (1 << 20, 4096, 512, 1):
            try:
                while True:
                    fh.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    return filler


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "small"
    if not _mount_tmpfs(mnt, "64m"):
        pytest.skip("cannot mount a small tmpfs here (needs root); the injected-error tests cover the logic")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_disk_full_mid_run_fails_the_file_clearly_and_publishes_nothing(small_disk, weights, clips):
    proc = start_cli([clips["long"], clips["a"], "--out", small_disk], weights)
    wait_for_progress(proc)                        # writing has begun (partial files exist)
    assert hidden(small_disk)
    _fill(small_disk)                              # the disk is full from now on
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1 and "Traceback" not in stderr
    first = next(line for line in summary_lines(stdout) if line.startswith("long.mp4"))
    assert "failed" in first and ("disk is full" in first or "free disk space" in first), first
    assert sorted(files(small_disk)) == ["filler.bin"]        # nothing published, no partial left


def test_disk_full_for_a_second_mid_run_fails_the_file(small_disk, weights, clips):
    """The case of the issue: full for about a second, then space again. Only a writer that reports
    write errors at once can see it; the OpenCV writer cannot (cv2.VideoWriter.write returns
    nothing), so this runs with the PyAV writer."""
    import app.video.writer as writer_module

    if "av" not in vars(writer_module):
        pytest.skip("the OpenCV video writer does not report write errors; this needs the PyAV writer")
    proc = start_cli([clips["long"], "--out", small_disk], weights)
    wait_for_progress(proc)
    filler = _fill(small_disk)
    full_since, seen, steps = time.monotonic(), "", 0
    while steps < 2:            # full while the run does two more 10 % steps (30 frames) or fails, however
        line = proc.stdout.readline()        # slow the machine (a fixed second could pass without a write)
        if not line:
            break
        seen += line
        steps += "frames" in line
    time.sleep(max(0.0, 1.0 - (time.monotonic() - full_since)))         # and at least the second of the issue
    filler.unlink()
    stdout, stderr = proc.communicate(timeout=120)
    stdout = seen + stdout
    assert proc.returncode == 1, stdout
    assert "disk is full" in stdout + stderr
    assert files(small_disk) == {}


# ---- write errors injected where the file is written (every machine; holds for any video writer) ---

@pytest.fixture(scope="module")
def models(retinaface_model):
    from app.engine.faces import FaceDetector
    from app.engine.model_set import Models

    return Models(faces=FaceDetector(retinaface_model), landmarks=None, files={"retinaface": retinaface_model})


class _FullAfter:
    """A file object that fails like a full disk once `limit` bytes have been written."""

    def __init__(self, fh, limit: int):
        self._fh, self._left = fh, limit

    def write(self, data):
        self._left -= len(data)
        if self._left < 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self._fh.write(data)

    def __getattr__(self, name):
        return getattr(self._fh, name)


def _old_results(out: Path, stem: str = "a") -> dict:
    out.mkdir()
    for s in ALL:
        (out / f"{stem}{s}").write_text(f"earlier result {s}")
    return files(out)


def test_disk_full_in_the_landmarks_csv_mid_run(tmp_path, models, clips, a_results, monkeypatch):
    from app.results import landmarks_csv
    from app.pipeline.run import Pipeline, Settings

    real_init = landmarks_csv.LandmarksCsv.__init__

    def init(self, path, coarse):
        real_init(self, path, coarse)
        self._fh = _FullAfter(self._fh, limit)          # about half of the rows
        self._writer = landmarks_csv.csv.DictWriter(self._fh, fieldnames=landmarks_csv.csv_columns(coarse),
                                                    extrasaction="ignore")

    limit = (a_results / "a_landmarks.csv").stat().st_size // 2      # the same clip's whole CSV: full half-way
    monkeypatch.setattr(landmarks_csv.LandmarksCsv, "__init__", init)
    out = tmp_path / "out"
    before = _old_results(out)
    result = Pipeline(models, Settings(overwrite=True)).process(clips["a"], out)
    assert not result.ok and "disk is full" in result.error, result.error
    assert files(out) == before                        # the earlier results, untouched; nothing hidden


def test_disk_full_in_a_video_mid_run(tmp_path, models, clips, monkeypatch):
    """The PyAV writer raises VideoWriteError at once on a write error; here its write is made to
    do so after 4 of the clip's 8 frames."""
    from app.pipeline.run import Pipeline, Settings
    from app.pipeline.stages import post
    from app.video.writer import VideoWriteError

    real_write = post.VideoWriter.write

    def write(self, *args, **kw):
        if self.frames_written >= 4:
            raise VideoWriteError("left_mirrored.mp4: the disk is full")
        return real_write(self, *args, **kw)

    monkeypatch.setattr(post.VideoWriter, "write", write)
    out = tmp_path / "out"
    before = _old_results(out)
    result = Pipeline(models, Settings(overwrite=True)).process(clips["a"], out)
    assert not result.ok and "disk is full" in result.error, result.error
    assert files(out) == before


def test_disk_full_when_writing_the_report(tmp_path, models, clips, monkeypatch):
    from app.results import report
    from app.pipeline.run import Pipeline, Settings

    def full(path, data):
        with open(path, "w", encoding="utf-8") as fh:
            fh.write("{")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(report, "write_report", full)
    monkeypatch.setattr("app.pipeline.run.write_report", full)
    out = tmp_path / "out"
    before = _old_results(out)
    result = Pipeline(models, Settings(overwrite=True)).process(clips["tiny_a"], out)
    assert not result.ok and "disk is full" in result.error, result.error
    assert files(out) == before


@pytest.fixture(scope="module")
def long_landmarks_csv(tmp_path_factory, a_results):
    """A real run's landmarks repeated to 4000 rows (133 s at 30 fps): made once for the three
    signals (each test only reads it). Its temporary files exist from the end of the computation
    until the summary's charts and PDF are written, a stretch of about 2 CPU s whatever the length
    (measured: 1.3-6.5 s of a 6.9 s run at load 10); 40000 rows only made the computation before it
    longer (3 CPU s a signal instead of 1)."""
    import csv

    root = tmp_path_factory.mktemp("long_measures")
    with open(a_results / "a_landmarks.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    long_csv = root / "long" / "long_landmarks.csv"
    long_csv.parent.mkdir()
    step = float(rows[1]["time_ms"]) - float(rows[0]["time_ms"])
    with open(long_csv, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        for k in range(4000):
            r = dict(rows[k % len(rows)], frame=k, time_ms=round(k * step, 3))
            w.writerow(r)
    return long_csv


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_measures_signal_leaves_no_partial_and_exits_128_plus_signal(tmp_path, long_landmarks_csv, sig):
    """`measures` on a long landmarks CSV, signalled while its temporary files exist."""
    long_csv = long_landmarks_csv
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "main.py", "measures", str(long_csv), "--out", str(out)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300     # generous: a loaded machine
    while not hidden(out) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert hidden(out), "measures finished before its temporary files could be seen"
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, stderr
    assert "Traceback" not in stderr and "cancelled" in stderr
    assert files(out) == {}                        # nothing published, no partial left


def test_a_shell_glob_over_inputs_and_earlier_outputs_skips_the_outputs(tmp_path, weights, clips, a_results):
    folder = tmp_path / "visit"
    folder.mkdir()
    shutil.copy(clips["tiny_a"], folder / "smile.mp4")
    copy_results(a_results, "a", folder, "smile")                        # a first run's outputs beside the input
    everything = sorted(folder.iterdir())                                 # what `process visit/*` passes
    assert len(everything) == 1 + len(ALL)
    again = cli([*everything, "--overwrite"], weights)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"skipped {len(ALL)} FaceMirror output files" in again.stdout
    assert "1 of 1 succeeded" in again.stdout and "failed" not in again.stdout


def test_output_folder_unwritable_mid_run_names_the_folder_and_the_leftovers(tmp_path, weights, clips):
    out = tmp_path / "out"
    proc = start_cli([clips["mid"], "--out", out], weights)
    wait_for_progress(proc)                        # partial files exist
    proc.send_signal(signal.SIGSTOP)               # held mid-run (however loaded the machine) while the
    try:                                           # folder is made unwritable
        locked = subprocess.run(["chattr", "+i", str(out)], capture_output=True, check=False).returncode == 0
        assert hidden(out) and not [n for n in files(out) if not n.startswith(".")], "the run was not mid-way"
    finally:
        proc.send_signal(signal.SIGCONT)
    if not locked:
        proc.kill()
        proc.communicate()
        pytest.skip("chattr +i is not possible here (needs root and a file system with the flag)")
    try:
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        subprocess.run(["chattr", "-i", str(out)], check=False)
    assert proc.returncode == 1 and "Traceback" not in stderr
    assert f"cannot write outputs in {out}" in stderr
    assert "could not be removed from" in stderr and "the next run that writes there removes them" in stderr
    left = hidden(out)
    assert left and not [n for n in files(out) if not n.startswith(".")]   # nothing published
    again = cli([clips["tiny_a"], "--out", out], weights)                  # the next run cleans them
    assert again.returncode == 0 and not hidden(out)
