"""`compare` with guided exams: the task headlines are compared when every visit followed a protocol
(like with like), the segment headlines otherwise. Values are written by the test (tests/followup_data.py
plus a "tasks" list in the NAME_measures.json contract of app/measures/tasks.py)."""
from __future__ import annotations

import json

from app.cli.main import main
from tests.followup_data import headline, write_output_set

DATES = ["2026-01-10T09:00:00+00:00", "2026-03-15T09:00:00+00:00"]


def _task(task: str, sym: float, ci: tuple[float, float], right: float = 10.0) -> dict:
    left = right * sym / 100.0
    return {"task": task, "start_s": 5.0, "end_s": 9.0,
            "headline": {"measure": "commissure_excursion", "unit": "mm", "symmetry_pct": sym, "ci95": list(ci),
                         "weaker": "left" if sym < 95 else "none",
                         "right": {"value": right, "ci95": [right - 0.5, right + 0.5]},
                         "left": {"value": left, "ci95": [left - 0.5, left + 0.5]}}}


def _visit(root, label, date, segment_sym, task_sym):
    path = write_output_set(root / label, "exam", patient="P-7", visit=label, recorded_at=date,
                            headlines=[headline("mouth", segment_sym, (segment_sym - 5, segment_sym + 5))])
    if task_sym is not None:
        measures = path.with_name("exam_measures.json")
        body = json.loads(measures.read_text())
        body["tasks"] = [_task("smile", task_sym, (task_sym - 5, task_sym + 5))]
        measures.write_text(json.dumps(body))


def _mouth(tmp_path):
    out = tmp_path / "out"
    assert main(["compare", str(tmp_path / "in"), "--out", str(out)]) == 0
    data = json.loads((out / "compare.json").read_text())
    return next(r for r in data["patients"][0]["regions"] if r["region"] == "mouth")


def test_two_guided_visits_compare_their_smile_task_headlines(tmp_path):
    _visit(tmp_path / "in", "V1", DATES[0], 50.0, 40.0)
    _visit(tmp_path / "in", "V2", DATES[1], 52.0, 80.0)
    mouth = _mouth(tmp_path)
    assert [p["symmetry_pct"] for p in mouth["points"]] == [40.0, 80.0]
    assert mouth["change"]["direction"] == "rose"
    assert "guided task" in mouth["sentence"]


def test_a_visit_without_a_protocol_keeps_the_segment_headlines_for_all(tmp_path):
    _visit(tmp_path / "in", "V1", DATES[0], 50.0, 40.0)
    _visit(tmp_path / "in", "V2", DATES[1], 52.0, None)
    mouth = _mouth(tmp_path)
    assert [p["symmetry_pct"] for p in mouth["points"]] == [50.0, 52.0]
    assert "guided" not in mouth["sentence"]
