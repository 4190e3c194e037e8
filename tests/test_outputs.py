"""Output naming, pre-flight checks, all-or-nothing publishing, input discovery."""
from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest

from app.base import outputs as outputs_mod
from app.base.outputs import (
    KINDS,
    Input,
    OutputError,
    OutputSet,
    clean_stale_files,
    distinct_labels,
    expand_inputs,
    find_collisions,
    find_videos,
    out_dir_for,
    output_paths,
    parse_temp_name,
    preflight,
    temp_name,
)


def test_output_names_follow_design(tmp_path):
    paths = output_paths(tmp_path / "in" / "patient 7.MOV", tmp_path / "out")
    assert {k: p.name for k, p in paths.items()} == {
        "left_mirrored": "patient 7_left_mirrored.mp4", "right_mirrored": "patient 7_right_mirrored.mp4",
        "annotated": "patient 7_annotated.mp4", "landmarks": "patient 7_landmarks.csv",
        "report": "patient 7_report.json", "measures_csv": "patient 7_measures.csv",
        "measures_json": "patient 7_measures.json", "summary": "patient 7_summary.html",
        "summary_pdf": "patient 7_summary.pdf"}     # the design's outputs, and the summary as pages to file
    assert "annotated" not in output_paths(tmp_path / "a.mp4", tmp_path, annotated=False)


def test_preflight_refuses_existing_and_names_them(tmp_path):
    paths = output_paths(tmp_path / "a.mp4", tmp_path / "out")
    preflight(paths, overwrite=False)  # creates the folder
    paths["landmarks"].write_text("old")
    with pytest.raises(OutputError, match="a_landmarks.csv"):
        preflight(paths, overwrite=False)
    preflight(paths, overwrite=True)


def test_preflight_output_folder_is_a_file(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        preflight(output_paths(tmp_path / "a.mp4", f), overwrite=False)


def test_publish_is_all_or_nothing(tmp_path):
    paths = output_paths(tmp_path / "a.mp4", tmp_path, annotated=False)
    outs = OutputSet(paths)
    for k, t in outs.temp.items():
        assert t.name.startswith(".")  # hidden while incomplete
        if k != "report":
            t.write_text("data")
    with pytest.raises(OutputError, match="not written completely"):
        outs.publish(overwrite=False)
    assert not any(p.exists() for p in paths.values())
    outs.temp["report"].write_text("{}")
    outs.publish(overwrite=False)
    assert all(p.exists() for p in paths.values())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths.values())


def test_discard_removes_temporaries(tmp_path):
    outs = OutputSet(output_paths(tmp_path / "a.mp4", tmp_path))
    for t in outs.temp.values():
        t.write_text("partial")
    outs.discard()
    assert list(tmp_path.iterdir()) == []


def test_find_videos_in_folders_and_explicit_files(tmp_path):
    (tmp_path / "d" / "sub").mkdir(parents=True)
    for name in ("d/a.mp4", "d/sub/b.MOV", "d/notes.txt", "d/.hidden.mp4", "x.txt"):
        (tmp_path / name).write_text("x")
    videos, refused = find_videos([tmp_path / "d", tmp_path / "d" / "a.mp4", tmp_path / "x.txt",
                                   tmp_path / "missing.mp4"])
    assert [v.name for v in videos] == ["a.mp4", "b.MOV", "x.txt"]  # explicit files go to the reader
    assert [(p.name, why) for p, why in refused] == [("missing.mp4", "no such file or folder")]
    videos, refused = find_videos([tmp_path / "x.txt"], by_extension=True)
    assert videos == [] and refused[0][1] == "not a video file"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert find_videos([empty])[1] == [(empty, "folder contains no video files")]


# ---- all-or-nothing replacement -----------------------------------------------------------------


def _old_set(folder, stem="p", kinds=KINDS):
    """An earlier result of every kind, each with its own content."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for k in kinds:
        p = folder / f"{stem}{outputs_mod.SUFFIX[k]}"
        p.write_bytes(f"old {k} of the earlier input\n".encode())
        files[p.name] = p.read_bytes()
    return files


# A run that produced no measures (every frame unusable for measuring): 5 of the 8 kinds.
NO_MEASURES = ("left_mirrored", "right_mirrored", "annotated", "landmarks", "report")


def _new_set(folder, stem="p", annotated=True):
    outs = OutputSet(output_paths(folder / f"{stem}.mp4", folder, annotated=annotated, kinds=NO_MEASURES))
    for k, t in outs.temp.items():
        t.write_bytes(f"new {k}\n".encode())
    return outs


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_overwrite_replaces_every_kind_even_those_not_produced_now(tmp_path):
    _old_set(tmp_path)                       # includes annotated, measures and summary
    outs = _new_set(tmp_path, annotated=False)
    outs.publish(overwrite=True)
    after = _snapshot(tmp_path)
    assert sorted(after) == sorted(p.name for p in outs.final.values())   # no stale kind, no hidden file
    assert "p_annotated.mp4" not in after and "p_summary.html" not in after
    assert all(v.startswith(b"new ") for v in after.values())


def test_existing_output_of_a_kind_not_produced_now_is_refused_without_overwrite(tmp_path):
    (tmp_path / "p_annotated.mp4").write_text("old")
    with pytest.raises(OutputError, match="p_annotated.mp4"):
        preflight(output_paths(tmp_path / "p.mp4", tmp_path, annotated=False), overwrite=False)


@pytest.mark.parametrize("fail_at", range(13))
@pytest.mark.parametrize("error", [errno.EACCES, errno.ENOSPC])
def test_publish_failing_at_any_rename_keeps_the_complete_old_set(tmp_path, monkeypatch, fail_at, error):
    """Old set of 8 files, new set of 5, on a file system without hard links (exFAT, some shares):
    13 renames, and each one fails in turn."""
    old = _old_set(tmp_path)
    outs = _new_set(tmp_path)
    calls = {"n": 0}
    real_rename = os.rename

    def rename(src, dst):
        calls["n"] += 1
        if calls["n"] == fail_at + 1:
            raise OSError(error, os.strerror(error), str(dst))
        return real_rename(src, dst)

    def no_link(src, dst):
        raise OSError(errno.EPERM, "hard links not supported")

    monkeypatch.setattr(outputs_mod.os, "rename", rename)
    monkeypatch.setattr(outputs_mod.os, "link", no_link)
    with pytest.raises(OutputError, match="earlier results were left as they were"):
        outs.publish(overwrite=True)
    monkeypatch.undo()
    outs.discard()
    assert _snapshot(tmp_path) == old


def test_publish_with_a_full_disk_before_the_first_rename_changes_nothing(tmp_path, monkeypatch):
    old = _old_set(tmp_path)
    outs = _new_set(tmp_path)
    real_open = open

    def full_open(path, mode="r", *a, **k):
        if "w" in mode and outputs_mod.parse_temp_name(os.path.basename(path)):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_open(path, mode, *a, **k)

    monkeypatch.setattr("builtins.open", full_open)
    with pytest.raises(OutputError, match="disk is full.*nothing was changed"):
        outs.publish(overwrite=True)
    monkeypatch.undo()
    outs.discard()
    assert _snapshot(tmp_path) == old


def test_publish_without_overwrite_never_replaces_a_file_that_appeared(tmp_path):
    outs = _new_set(tmp_path)
    (tmp_path / "p_summary.html").write_text("someone else's")
    with pytest.raises(OutputError, match="appeared while processing"):
        outs.publish(overwrite=False)
    outs.discard()
    assert _snapshot(tmp_path) == {"p_summary.html": b"someone else's"}


def _chattr(path, flag):
    return subprocess.run(["chattr", flag, str(path)], capture_output=True, check=False).returncode == 0


def test_overwrite_when_one_old_file_cannot_be_moved_restores_all_of_them(tmp_path):
    """A real immutable file (chattr +i, root on ext4): rename fails with EPERM."""
    old = _old_set(tmp_path)
    locked = tmp_path / "p_report.json"
    if not _chattr(locked, "+i"):
        pytest.skip("chattr +i is not possible here (needs root and a file system with the flag)")
    try:
        outs = _new_set(tmp_path)
        with pytest.raises(OutputError, match="p_report.json"):
            outs.publish(overwrite=True)
        outs.discard()
    finally:
        _chattr(locked, "-i")
    assert _snapshot(tmp_path) == old


# ---- names ----------------------------------------------------------------------------------------

def test_temporary_names_do_not_grow_with_the_input_name(tmp_path):
    stem = "ü" * 110                                      # 220 bytes in UTF-8
    assert len(os.fsencode(stem)) == 220
    paths = output_paths(tmp_path / f"{stem}.mp4", tmp_path)
    preflight(paths, overwrite=False)
    outs = OutputSet(paths)
    for t in outs.temp.values():
        assert len(os.fsencode(t.name)) <= outputs_mod.TEMP_NAME_MAX
        t.write_bytes(b"x")                               # really creatable
    outs.publish(overwrite=False)
    assert all(p.exists() for p in paths.values())


def test_a_name_too_long_for_its_outputs_is_refused_before_work(tmp_path):
    stem = "a" * 240                                      # NAME_right_mirrored.mp4 would be 259 bytes
    with pytest.raises(OutputError, match="too long.*259 bytes"):
        preflight(output_paths(tmp_path / f"{stem}.mp4", tmp_path), overwrite=False)


def test_temp_names_carry_the_process_id():
    role, pid, _host = parse_temp_name(temp_name("partial", ".mp4"))
    assert (role, pid) == ("partial", os.getpid())
    assert parse_temp_name(".p_left_mirrored.partial-1234.mp4") is None
    assert parse_temp_name("facemirror-partial-1-abcd123456.mp4") is None   # not hidden: not ours


# ---- files left by killed runs ---------------------------------------------------------------------

def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_cleanup_removes_only_partial_files_of_processes_that_are_gone(tmp_path):
    dead, alive = _dead_pid(), os.getppid()
    stale = [tmp_path / temp_name("partial", ".mp4", pid=dead), tmp_path / temp_name("partial", ".csv", pid=dead)]
    keep = [tmp_path / temp_name("partial", ".mp4", pid=alive),                  # a run still going
            tmp_path / f".facemirror-partial-{dead}-ffff123456.mp4",              # another computer's run
            tmp_path / ".facemirror-notes.txt", tmp_path / "p.partial-1.mp4", tmp_path / "p_report.json"]
    if parse_temp_name(keep[1].name)[2] == outputs_mod._host_tag():
        keep[1] = tmp_path / f".facemirror-partial-{dead}-eeee123456.mp4"
    for p in stale + keep:
        p.write_text("x")
    result = clean_stale_files(tmp_path)
    assert sorted(result.removed) == sorted(stale)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in keep)
    assert f"removed 2 partial files left in {tmp_path} by an interrupted run (process {dead})" in result.message()
    assert clean_stale_files(tmp_path).message() == ""


KILL_MID_PUBLISH = r"""
import os, sys
from pathlib import Path
from app.base import outputs
folder, after, committed = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
outs = outputs.OutputSet(outputs.output_paths(folder / "p.mp4", folder))
for k, t in outs.temp.items():
    t.write_bytes(f"new {k}\n".encode())
if committed:      # killed while removing the moved-aside old files
    real_remove = outputs._remove
    def remove(p):
        if outputs.parse_temp_name(p.name)[0] == "old":
            os._exit(9)
        real_remove(p)
    outputs._remove = remove
else:              # killed after `after` new files were moved in
    real = outputs._place_no_clobber
    n = {"n": 0}
    def place(src, dst):
        if n["n"] == after:
            os._exit(9)
        n["n"] += 1
        real(src, dst)
    outputs._place_no_clobber = place
outs.publish(overwrite=True)
"""


@pytest.mark.parametrize("after", [0, 2, 4])
def test_a_run_killed_while_publishing_is_rolled_back_by_the_next_run(tmp_path, after):
    old = _old_set(tmp_path)
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run([sys.executable, "-c", KILL_MID_PUBLISH, str(tmp_path), str(after), "0"], cwd=repo, check=False)
    assert proc.returncode == 9
    assert _snapshot(tmp_path) != old                     # half-way: old files hidden, some new ones in place
    result = clean_stale_files(tmp_path)
    assert _snapshot(tmp_path) == old                     # the complete earlier set, nothing else
    assert len(result.restored) == len(old) and "put back the earlier results" in result.message()


def test_a_run_killed_after_publishing_keeps_the_new_set(tmp_path):
    _old_set(tmp_path)
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run([sys.executable, "-c", KILL_MID_PUBLISH, str(tmp_path), "0", "1"], cwd=repo, check=False)
    assert proc.returncode == 9
    clean_stale_files(tmp_path)
    after = _snapshot(tmp_path)
    assert sorted(after) == sorted(f"p{outputs_mod.SUFFIX[k]}" for k in outputs_mod.DEFAULT_KINDS)
    assert all(v.startswith(b"new ") for v in after.values())


# ---- inputs ---------------------------------------------------------------------------------------

def _tree(root, names):
    for n in names:
        (root / n).parent.mkdir(parents=True, exist_ok=True)
        (root / n).write_text("x")


def test_same_names_in_different_folders_keep_their_folder_under_out(tmp_path):
    _tree(tmp_path, ["visits/visit1/smile.mp4", "visits/visit2/smile.mp4", "visits/visit1/smile.mov"])
    found, _refused, _ = expand_inputs([tmp_path / "visits"])
    out = tmp_path / "out"
    jobs = [(i.path, out_dir_for(i, out)) for i in found]
    assert {str(d.relative_to(out)) for _, d in jobs} == {"visits/visit1", "visits/visit2"}
    clashes = find_collisions(jobs)
    # smile.mp4 and smile.mov of visit1 would write the same names: both refused, visit2 is fine
    assert set(clashes) == {tmp_path / "visits/visit1/smile.mp4", tmp_path / "visits/visit1/smile.mov"}
    assert "visit1/smile.mov" in clashes[tmp_path / "visits/visit1/smile.mp4"]
    # the same files named one by one with --out all go to one folder: every clash is found
    files = [tmp_path / "visits/visit1/smile.mp4", tmp_path / "visits/visit2/smile.mp4"]
    found, _, _ = expand_inputs(files)
    assert set(find_collisions([(i.path, out_dir_for(i, out)) for i in found])) == set(files)
    # without --out: beside each input
    assert out_dir_for(Input(files[1], tmp_path / "visits"), None) == files[1].parent


def test_an_output_that_would_replace_another_input_is_refused(tmp_path):
    _tree(tmp_path, ["a.mp4", "a_annotated.mp4"])      # the user's own video, no FaceMirror report
    found, _, _ = expand_inputs([tmp_path])
    clashes = find_collisions([(i.path, i.path.parent) for i in found])
    assert set(clashes) == {tmp_path / "a.mp4", tmp_path / "a_annotated.mp4"}
    assert "would replace" in clashes[tmp_path / "a_annotated.mp4"]


def test_facemirror_outputs_are_never_inputs(tmp_path):
    import json

    _tree(tmp_path, ["d/patient.mp4", "d/patient_left_mirrored.mp4", "d/patient_right_mirrored.mp4",
                     "d/patient_annotated.mp4", "d/holiday_annotated.mp4"])
    (tmp_path / "d/patient_report.json").write_text(json.dumps({"app": {"name": "FaceMirror"}}))
    (tmp_path / "d/holiday_report.json").write_text(json.dumps({"app": {"name": "SomethingElse"}}))
    found, refused, skipped = expand_inputs([tmp_path / "d"])
    assert sorted(i.path.name for i in found) == ["holiday_annotated.mp4", "patient.mp4"]
    assert len(skipped) == 3
    # named (a shell glob): skipped too, not refused as a failure; the report itself as well
    found, refused, skipped = expand_inputs([tmp_path / "d/patient_annotated.mp4", tmp_path / "d/patient_report.json"])
    assert found == [] and refused == [] and len(skipped) == 2
    # the window still says why a dropped output is not queued
    videos, refused = find_videos([tmp_path / "d/patient_annotated.mp4"], by_extension=True)
    assert videos == [] and "FaceMirror output" in refused[0][1]


def test_labels_show_enough_of_the_path_to_tell_inputs_apart(tmp_path):
    a, b, c = tmp_path / "v1/smile.mp4", tmp_path / "v2/smile.mp4", tmp_path / "v1/frown.mp4"
    labels = distinct_labels([a, b, c])
    assert labels == {a: "v1/smile.mp4", b: "v2/smile.mp4", c: "frown.mp4"}


def test_losing_a_publish_race_says_what_happened_without_temp_names(tmp_path, monkeypatch):
    """Two --overwrite runs put the same results in place at the same moment: the other run's set
    lands while this one is moving its files; this one publishes nothing and says so truthfully."""
    from app.base import outputs as outputs_module

    paths = output_paths(tmp_path / "a.mp4", tmp_path, annotated=False)
    for p in paths.values():
        p.write_text("old")                          # an earlier result set
    mine, other = OutputSet(paths), OutputSet(paths)
    for outs, text in ((mine, "mine"), (other, "other")):
        for t in outs.temp.values():
            t.write_text(text)
    real = outputs_module._place_no_clobber
    state = {"raced": False}

    def racing(src, dst):
        if not state["raced"]:
            state["raced"] = True
            other.publish(overwrite=True)            # the other run wins in between
        real(src, dst)

    monkeypatch.setattr(outputs_module, "_place_no_clobber", racing)
    with pytest.raises(OutputError) as err:
        mine.publish(overwrite=True)
    message = str(err.value)
    assert "another run wrote the same results" in message and "published nothing" in message
    assert ".facemirror" not in message and "left as they were" not in message
    monkeypatch.setattr(outputs_module, "_place_no_clobber", real)
    mine.discard()
    assert {p.read_text() for p in paths.values()} == {"other"}     # the other run's complete set
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths.values())


def test_reading_an_earlier_result_never_opens_a_named_pipe(tmp_path):
    """A study table's report_json can name anything; a FIFO there must read as 'not a report'
    (opening one for reading blocks until a writer comes, which would hang `compare` or `study`)."""
    import os
    import threading

    from app.base.outputs import read_json_object

    fifo = tmp_path / "clip_report.json"
    os.mkfifo(fifo)
    result: list = []
    reader = threading.Thread(target=lambda: result.append(read_json_object(fifo)), daemon=True)
    reader.start()
    reader.join(30)
    blocked = reader.is_alive()
    if blocked:                                  # unblock the reader so the test process can end
        with open(fifo, "w"):
            pass
    assert not blocked and result == [None]
