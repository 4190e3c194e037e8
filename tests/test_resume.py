"""`process --resume`: a finished output set (same input sha256, app version, models, settings; every
file there) is skipped in well under a second and left untouched; anything else is redone and
replaced; a study killed (SIGKILL) at any point and resumed redoes no finished file and never
shows a partial one (app/batch/scale/resume.py)."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app import __version__
from app.base.model_files import sha256_file
from app.base.outputs import SUFFIX
from app.pipeline.run import Settings
from app.batch.scale import resume
from tests.conftest import REPO
from tests.scale_helpers import (DETECTOR, files, finished_stems, hidden, make_clips, process,  # noqa: F401
                                 summary_rows, weights_dir)


def expected(**settings) -> resume.Expected:
    return resume.Expected(models={"retinaface": sha256_file(DETECTOR)}, settings=Settings(**settings).as_dict())


@pytest.fixture(scope="module")
def finished(tmp_path_factory, weights_dir):  # noqa: F811
    """One clip processed once; tests copy its results before changing them."""
    root = tmp_path_factory.mktemp("finished")
    clip = make_clips(root / "in", 1)[0]
    code, out, err = process(clip, "--out", root / "res")
    assert code == 0, out + err
    return clip, root / "res"


def _copy(finished, tmp_path) -> tuple[Path, Path]:
    import shutil

    clip, res = finished
    shutil.copytree(res, tmp_path / "res")
    shutil.copy(clip, tmp_path / clip.name)
    return tmp_path / clip.name, tmp_path / "res"


def _edit_report(res: Path, stem: str, change) -> None:
    path = res / f"{stem}{SUFFIX['report']}"
    report = json.loads(path.read_text())
    change(report)
    path.write_text(json.dumps(report))


def test_a_finished_file_is_skipped_quickly_and_left_untouched(finished, tmp_path):
    clip, res = _copy(finished, tmp_path)
    before = files(res)
    t0 = time.perf_counter()
    decision = resume.check(clip, res, expected())
    assert decision.done, decision.reason
    assert time.perf_counter() - t0 < 0.5

    code, out, err = process(clip, "--out", res, "--resume")
    assert code == 0, out + err
    assert "already done" in out and summary_rows(out) == {clip.name: "skipped"}
    assert "1 of 1 succeeded, 1 of them already done earlier" in out
    assert files(res) == before           # not one file written again


def _other_version(r): r["app"]["version"] = "0.0.9"
def _other_detector(r): r["models"]["retinaface"]["sha256"] = "0" * 64
def _star_added_since(r): r["models"]["star"] = {"file": "star_landmark_98.onnx", "sha256": "1" * 64}
def _other_midline(r): r["settings"]["midline"] = "pupils"
def _other_rest(r): r["settings"]["rest"] = [0.0, 0.2]
def _other_input(r): r["input"]["sha256"] = "2" * 64
def _no_input_hash(r): r["input"]["sha256"] = None
def _other_size(r): r["input"]["bytes"] += 1
def _not_ours(r): r["app"]["name"] = "SomethingElse"


@pytest.mark.parametrize("change, reason", [
    (_other_version, "made by version 0.0.9"), (_other_detector, "other model files"),
    (_star_added_since, "other model files"), (_other_midline, "other settings (midline)"),
    (_other_rest, "other settings (rest)"), (_other_input, "another input (other sha256)"),
    (_no_input_hash, "no input sha256"), (_other_size, "another input (other size)"),
    (_not_ours, "not a FaceMirror report")])
def test_outdated_sets_are_not_taken_as_finished(finished, tmp_path, change, reason):
    clip, res = _copy(finished, tmp_path)
    _edit_report(res, clip.stem, change)
    decision = resume.check(clip, res, expected())
    assert not decision.done and decision.outputs_exist and reason in decision.reason, decision.reason


@pytest.mark.parametrize("kind", ["annotated", "measures_json", "report"])
def test_a_set_missing_a_file_is_not_finished(finished, tmp_path, kind):
    clip, res = _copy(finished, tmp_path)
    (res / f"{clip.stem}{SUFFIX[kind]}").unlink()
    decision = resume.check(clip, res, expected())
    assert not decision.done and decision.outputs_exist


def test_other_settings_and_nothing_yet(finished, tmp_path):
    clip, res = _copy(finished, tmp_path)
    assert not resume.check(clip, res, expected(annotated=False)).done
    assert resume.check(clip, res, expected(overwrite=True, preview_fps=5.0)).done   # do not change outputs
    nothing = resume.check(clip, tmp_path / "empty", expected())
    assert not nothing.done and not nothing.outputs_exist


def test_another_video_under_the_same_name_is_redone_and_replaces_the_set(finished, tmp_path, weights_dir):  # noqa: F811
    clip, res = _copy(finished, tmp_path)
    # 2 frames: nothing to measure, so the redo also proves that no measure file of the old set stays
    other = make_clips(tmp_path / "other", 1, frames=2, first_seed=7, prefix=clip.stem[:-1])[0]
    other.replace(clip)               # same name, other recording
    code, out, err = process(clip, "--out", res, "--resume")
    assert code == 0, out + err
    assert "redoing: made from another input" in out and summary_rows(out) == {clip.name: "done"}
    report = json.loads((res / f"{clip.stem}{SUFFIX['report']}").read_text())
    assert report["input"]["sha256"] == sha256_file(clip) and report["app"]["version"] == __version__
    assert sorted(files(res)) == sorted(f"{clip.stem}{SUFFIX[k]}" for k in report["outputs"])   # no stale file
    assert not hidden(res)


def test_a_publish_pending_from_another_computer_blocks_instead_of_racing_it(finished, tmp_path, weights_dir):  # noqa: F811
    """A journal the cleanup cannot settle (another computer's, or a live run's) names this set: its
    later rollback could undo a redo half-way, so the input fails with what to do; nothing is touched."""
    clip, res = _copy(finished, tmp_path)
    _edit_report(res, clip.stem, _other_version)                # outdated: would be redone
    from app.base.outputs import _host_tag

    other = "ffff" if _host_tag() != "ffff" else "fffe"       # a computer tag that is not this one's
    journal = res / f".facemirror-journal-4242-{other}123456.json"
    journal.write_text(json.dumps({"app": "FaceMirror", "committed": False,
                                   "plan": [{"kind": "report", "final": f"{clip.stem}_report.json",
                                             "old": f".facemirror-old-4242-{other}654321.json", "new": None}]}))
    before = files(res)
    code, out, err = process(clip, "--out", res, "--resume")
    assert code == 1 and summary_rows(out) == {clip.name: "failed"}
    assert f"computer tag {other}" in err and journal.name in err
    assert files(res) == before


# ---- a study killed with SIGKILL at random points, then resumed --------------------------------------

def _start(args, weights: Path) -> subprocess.Popen:
    env = dict(os.environ, FACEMIRROR_WEIGHTS_DIR=str(weights), PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "main.py", "process", *map(str, args)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _complete_sets(res: Path) -> dict[str, dict]:
    """NAME -> the files of its published set. Every NAME with any published file must have its
    complete set: a report listing its outputs, each of them there (the only exception is the
    instant a publish is cut short, which leaves its journal for the next run to finish or undo)."""
    journal = any(n.startswith(".facemirror-journal-") for n in os.listdir(res)) if res.exists() else False
    published: dict[str, dict] = {}
    for name, fact in files(res).items():
        if Path(name).name.startswith("."):
            continue
        for suffix in SUFFIX.values():
            if name.endswith(suffix):
                published.setdefault(name[: -len(suffix)], {})[name] = fact
    for stem, present in published.items():
        report = res / f"{stem}{SUFFIX['report']}"
        if journal and not report.exists():
            continue
        assert report.exists(), f"{stem}: files published without a report: {sorted(present)}"
        listed = json.loads(report.read_text())["outputs"]
        assert sorted(f"{stem}{SUFFIX[k]}" for k in listed) == sorted(present), f"{stem}: incomplete set"
    return published


def test_resume_after_sigkill_at_random_points_redoes_nothing_finished(tmp_path, weights_dir):  # noqa: F811
    # 8 frames: a file's frames take longer than the 0.6 s after its start within which it is killed,
    # and its measures and summary (about 2.5 CPU s) longer still, so a round never finishes the study
    clips = make_clips(tmp_path / "study", 4, frames=8)
    res = tmp_path / "res" / "study"
    rng = random.Random(23)
    partial_seen = 0
    for _round in range(3):
        before = _complete_sets(res)
        if len(before) == len(clips):     # a round finished the study (8 frames each make that unlikely)
            break
        proc = _start([tmp_path / "study", "--out", tmp_path / "res", "--resume"], weights_dir)
        # let it reach a random one of the files not finished yet, then a random moment of its work
        target = rng.randint(len(before) + 1, len(clips))
        while proc.poll() is None and not proc.stdout.readline().startswith(f"[{target}/"):
            pass
        time.sleep(rng.uniform(0.0, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        partial_seen += bool(hidden(res))
        after = _complete_sets(res)       # asserts: only complete sets are published
        for stem, present in before.items():
            assert after[stem] == present, f"{stem} was written again"    # same inode, time, content
    last = _complete_sets(res)
    code, out, err = process(tmp_path / "study", "--out", tmp_path / "res", "--resume")
    assert code == 0, out + err
    final = _complete_sets(res)
    assert set(final) == {c.stem for c in clips} == finished_stems(res)
    assert all(final[stem] == present for stem, present in last.items())
    assert summary_rows(out) == {c.name: "skipped" if c.stem in last else "done" for c in clips}
    assert not hidden(tmp_path / "res")     # the killed runs' partial files were removed
    print(f"\nkills that left partial files: {partial_seen} of 3; finished before the last run: {len(last)} of 4")
