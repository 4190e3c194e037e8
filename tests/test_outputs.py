"""Output naming, pre-flight checks, all-or-nothing publishing, input discovery."""
from __future__ import annotations

import pytest

from app.outputs import OutputError, OutputSet, find_videos, output_paths, preflight


def test_output_names_follow_design(tmp_path):
    paths = output_paths(tmp_path / "in" / "patient 7.MOV", tmp_path / "out")
    assert {k: p.name for k, p in paths.items()} == {
        "left_mirrored": "patient 7_left_mirrored.mp4", "right_mirrored": "patient 7_right_mirrored.mp4",
        "annotated": "patient 7_annotated.mp4", "landmarks": "patient 7_landmarks.csv",
        "report": "patient 7_report.json"}
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
