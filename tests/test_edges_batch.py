"""Edges of headless runs (issue 33): a full disk in `measures`, nohup's ignored SIGHUP, a redo that
fails after the input changed, the rollback of a half-published set said in words."""
from __future__ import annotations

import errno
import io
import shutil
import signal
import subprocess
import sys
from types import SimpleNamespace

import pytest

from app.cli.main import main
from tests.cli_runs import signal_when_ready
from tests.conftest import REPO
from tests.scale_helpers import finished_stems, make_clips, summary_rows, weights_dir  # noqa: F401
from tests.test_measures_output import landmarks_csv


def test_measures_says_a_full_disk_in_plain_words_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    """The disk fills while the measures are written (ENOSPC from the file system, simulated at the
    writer): one sentence without "[Errno 28]", exit 1, no partial file."""
    src = landmarks_csv(tmp_path)
    from app.measures import command

    def full_disk(csv_path, targets, **kwargs):
        for path in targets.values():
            path.write_bytes(b"x" * 1000)           # a partly written temporary file
        raise OSError(errno.ENOSPC, "No space left on device", str(next(iter(targets.values()))))

    monkeypatch.setattr(command, "write_measures", full_disk)
    code = main(["measures", str(src)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1, err
    assert err[0] == ("error: cannot write the measures: the disk is full (or the quota is used up); free some space "
                      "and run again; nothing was written")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip_landmarks.csv"]


IGNORE_HUP = "import signal; signal.signal(signal.SIGHUP, signal.SIG_IGN)\n"


def _ignoring_hup():
    signal.signal(signal.SIGHUP, signal.SIG_IGN)        # what nohup does before it starts the command


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this system")
def test_an_ignored_sighup_stays_ignored_and_the_others_still_cancel():
    """In a child started with SIGHUP ignored (as nohup starts it): app.base.cancel leaves SIGHUP ignored
    (a hang-up neither cancels nor ends it) and still routes SIGTERM to a cancel."""
    code = ("import os, signal\n"
            "from app.base import cancel\n"
            "cancel.install(); cancel.install()\n"            # main.py, then the batch
            "assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN\n"
            "os.kill(os.getpid(), signal.SIGHUP)\n"
            "assert not cancel.requested.is_set()\n"
            "previous = cancel.raise_on_signals()\n"
            "os.kill(os.getpid(), signal.SIGHUP)\n"
            "cancel.restore(previous)\n"
            "os.kill(os.getpid(), signal.SIGTERM)\n"
            "assert cancel.requested.is_set() and cancel.exit_code() == 143\n"
            "print('alive')\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          preexec_fn=_ignoring_hup)
    assert proc.returncode == 0 and proc.stdout.strip() == "alive", proc.stderr
    # without nohup a hang-up still cancels (exit status 129 through the handler)
    plain = subprocess.run([sys.executable, "-c", "import os, signal\nfrom app.base import cancel\ncancel.install()\n"
                            "os.kill(os.getpid(), signal.SIGHUP)\nprint(cancel.exit_code())\n"],
                           cwd=REPO, capture_output=True, text=True, timeout=120)
    assert plain.stdout.strip() == "129", plain.stderr


@pytest.mark.skipif(shutil.which("nohup") is None, reason="nohup is not installed")
def test_a_run_under_nohup_survives_a_hang_up_and_finishes(tmp_path, weights_dir):  # noqa: F811
    """`nohup main.py process ...`: SIGHUP after the first file has started (the child's own progress
    line says so) changes nothing; every file is done, exit 0."""
    # 8 frames each: after the first file's first frame, its other frames, its measures and summary
    # (about 2.5 CPU s) and the whole second file are still to come when the hang-up arrives
    clips = make_clips(tmp_path / "in", 2, frames=8)
    proc = subprocess.Popen(["nohup", sys.executable, "main.py", "process", *map(str, clips), "--out",
                             str(tmp_path / "res")], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    # readiness: the first file is being processed (its first progress line)
    stdout, stderr = signal_when_ready(proc, signal.SIGHUP, lambda line: "frames" in line)
    assert proc.returncode == 0, stdout + stderr
    assert summary_rows(stdout) == {c.name: "done" for c in clips}
    assert finished_stems(tmp_path / "res") == {c.stem for c in clips}


def test_a_changed_input_whose_redo_fails_withdraws_the_stale_set(tmp_path, weights_dir):  # noqa: F811
    """--resume finds the set made from another recording (the file was replaced), the redo fails
    (the new file is not a video): the old set is withdrawn and said so, and `study` no longer lists
    a row with the other recording's sha256."""
    from app.base.model_files import sha256_file
    from app.followup.study_table import study_command
    from tests.scale_helpers import process

    clip = make_clips(tmp_path / "in", 1, frames=2)[0]       # nothing to measure: which files stay is the point
    code, out, err = process(clip, "--out", tmp_path / "res")
    assert code == 0, out + err
    old_sha = sha256_file(clip)
    keep = tmp_path / "res" / "notes.txt"                    # the user's own file beside the set: untouched
    keep.write_text("mine")
    clip.write_bytes(b"this is not a video any more\n" * 50)
    code, out, err = process(clip, "--out", tmp_path / "res", "--resume")
    assert code == 1
    assert "redoing: made from another input (other size)" in out
    assert (f"withdrew the earlier outputs of {clip.name} in {tmp_path / 'res'} (" in err
            and "they were made from another recording and its redo failed" in err), err
    assert summary_rows(out) == {clip.name: "failed"}
    assert sorted(p.name for p in (tmp_path / "res").iterdir()) == ["notes.txt"]
    assert keep.read_text() == "mine"

    o, e = io.StringIO(), io.StringIO()
    code = study_command(SimpleNamespace(folders=[str(tmp_path / "res")], out=str(tmp_path / "study.csv"),
                                         overwrite=False), out=o, err=e)
    assert code == 1 and "no FaceMirror reports" in e.getvalue() and old_sha not in o.getvalue() + e.getvalue()


def test_a_failed_redo_of_the_same_recording_keeps_its_earlier_set(tmp_path, weights_dir, monkeypatch):  # noqa: F811
    """Only a set from another recording is withdrawn: an outdated set of the same recording (other
    settings) whose redo fails stays, since it still describes this recording (the redo's failure is
    simulated at the batch's per-file step)."""
    from app.batch import process as batch
    from app.batch.job_queue.summary import FileRow
    from tests.scale_helpers import files, process

    clip = make_clips(tmp_path / "in", 1, frames=2)[0]       # nothing to measure: which files stay is the point
    code, out, err = process(clip, "--out", tmp_path / "res")
    assert code == 0, out + err
    before = files(tmp_path / "res")
    monkeypatch.setattr(batch, "_run_one", lambda pipeline, video, out_dir, cancel, out, err:
                        FileRow(video, batch.FAILED, "simulated failure"))
    code, out, err = process(clip, "--out", tmp_path / "res", "--resume", "--midline", "pupils")
    assert code == 1 and "redoing: made with other settings (midline)" in out
    assert "withdrew" not in out + err
    assert files(tmp_path / "res") == before


def test_the_rollback_of_a_half_published_set_is_said_by_the_next_run(tmp_path, weights_dir):  # noqa: F811
    """A run killed after moving 2 of its new files into place (no earlier set there): the next
    `process` writing into that folder takes the incomplete set back and says so in words."""
    from tests.cli_runs import UNMEASURED, names
    from tests.scale_helpers import process
    from tests.test_outputs import KILL_MID_PUBLISH

    res = tmp_path / "res"
    res.mkdir()
    killed = subprocess.run([sys.executable, "-c", KILL_MID_PUBLISH, str(res), "2", "0"], cwd=REPO, check=False)
    assert killed.returncode == 9
    half = sorted(n for n in (p.name for p in res.iterdir()) if not n.startswith("."))
    assert len(half) == 2 and all(n.startswith("p_") for n in half)
    clip = make_clips(tmp_path / "in", 1, frames=2)[0]       # nothing to measure: which set stays is the point
    code, out, err = process(clip, "--out", res)
    assert code == 0, out + err
    assert (f"rolled back a publish that an interrupted run had cut short in {res}: removed its incomplete set "
            f"{', '.join(half)}") in out or (f"removed its incomplete set {', '.join(reversed(half))}" in out), out
    assert sorted(p.name for p in res.iterdir()) == names(clip.stem, UNMEASURED)
