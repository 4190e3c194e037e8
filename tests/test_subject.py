"""Patient and visit: given as flags, or read from a PATIENT/VISIT/recording.mp4 folder layout,
land in the report, the measures and the study table; the log never shows them."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from app.pipeline.run import Settings
from tests.scale_helpers import make_clips, process, weights_dir  # noqa: F401


def test_subject_from_folders_unless_given():
    s = Settings(subject_from_folders=True)
    assert s.subject_for(Path("/study/P-014/visit 2/smile.mp4")) == {"patient": "P-014", "visit": "visit 2"}
    given = Settings(subject_from_folders=True, patient="P-999")
    assert given.subject_for(Path("/study/P-014/V2/smile.mp4")) == {"patient": "P-999", "visit": "V2"}
    assert Settings().subject_for(Path("/study/P-014/V2/smile.mp4")) == {"patient": None, "visit": None}


def test_folder_layout_reaches_report_measures_and_study_table(tmp_path, weights_dir):  # noqa: F811
    study = tmp_path / "study"
    make_clips(study / "P-014" / "V1", 1, prefix="smile")
    make_clips(study / "P-014" / "V2", 1, frames=2, first_seed=1, prefix="smile")    # nothing to measure
    code, out, err = process(study, "--out", tmp_path / "out", "--subject-from-folders", "--no-annotated")
    assert code == 0, err
    reports = sorted((tmp_path / "out").rglob("*_report.json"))
    assert len(reports) == 2
    subjects = sorted(json.loads(p.read_text())["subject"]["visit"] for p in reports)
    assert subjects == ["V1", "V2"]
    assert all(json.loads(p.read_text())["subject"]["patient"] == "P-014" for p in reports)
    measured = [p.with_name(p.name.replace("_report.json", "_measures.json")) for p in reports]
    assert [m.exists() for m in measured] == [True, False]          # V1's 12 frames are measured
    assert json.loads(measured[0].read_text())["subject"]["patient"] == "P-014"
    from app.cli.main import main
    assert main(["study", str(tmp_path / "out"), "--out", str(tmp_path / "study.csv")]) == 0
    with open(tmp_path / "study.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted((r["patient"], r["visit"]) for r in rows) == [("P-014", "V1"), ("P-014", "V2")]


def test_patient_ids_are_kept_out_of_the_log():
    from app.base import logs
    logs.note_private_words("P-314159")
    assert "P-314159" not in logs.redact("processing P-314159 now")
