"""The guided exam's protocol and record contract (app.measures.protocol): validation and round trip."""
import json

import pytest

from app.measures import protocol as P


def test_standard_protocol_uses_every_task_once_in_documented_order():
    assert [s.task for s in P.STANDARD.steps] == list(P.TASKS)
    assert P.STANDARD.duration_s == sum(s.lead_s + s.hold_s + s.relax_s for s in P.STANDARD.steps)


def test_record_round_trip_and_name_beside_csv(tmp_path):
    rec = P.Record("standard", (P.TaskTime("rest", 0.0, 5.0), P.TaskTime("smile", 12.0, 16.0)))
    video = tmp_path / "pat.mp4"
    path = P.record_path_for(video)
    assert path.name == "pat_protocol.json"
    assert P.record_path_for(tmp_path / "pat_landmarks.csv") == path
    P.write_record(path, rec)
    assert json.loads(path.read_text()) == {"protocol": "standard", "version": 1, "tasks": [
        {"task": "rest", "start_s": 0.0, "end_s": 5.0}, {"task": "smile", "start_s": 12.0, "end_s": 16.0}]}
    assert P.read_record(path) == rec
    assert P.find_record(tmp_path / "pat_landmarks.csv") == path
    assert [p.name for p in tmp_path.iterdir()] == ["pat_protocol.json"]


@pytest.mark.parametrize("tasks, words", [
    ([{"task": "grin", "start_s": 0, "end_s": 2}], "unknown task 'grin'"),
    ([{"task": "smile", "start_s": 3, "end_s": 2}], "end after it starts"),
    ([{"task": "smile", "start_s": 0, "end_s": 0.1}], "at least"),
    ([{"task": "smile", "start_s": 0, "end_s": 4}, {"task": "pucker", "start_s": 3, "end_s": 6}], "overlap"),
    ([{"task": "smile", "start_s": "1", "end_s": 4}], "number of seconds"),
    ([], "non-empty"),
])
def test_bad_records_are_refused_with_the_reason(tmp_path, tasks, words):
    path = tmp_path / "x_protocol.json"
    path.write_text(json.dumps({"protocol": "p", "version": 1, "tasks": tasks}))
    with pytest.raises(P.ProtocolError, match=words):
        P.read_record(path)


def test_unsupported_version_and_broken_json(tmp_path):
    path = tmp_path / "x_protocol.json"
    path.write_text(json.dumps({"version": 2, "tasks": [{"task": "rest", "start_s": 0, "end_s": 3}]}))
    with pytest.raises(P.ProtocolError, match="version 2"):
        P.read_record(path)
    path.write_text("{")
    with pytest.raises(P.ProtocolError, match="not valid JSON"):
        P.read_record(path)


def test_protocol_file_is_loaded_and_checked(tmp_path):
    path = tmp_path / "short.json"
    path.write_text(json.dumps({"name": "short", "steps": [{"task": "smile", "hold_s": 3}, {"task": "pucker",
                                                                                       "hold_s": 2, "relax_s": 1}]}))
    prot = P.load_protocol(path)
    assert prot.name == "short" and [s.task for s in prot.steps] == ["smile", "pucker"]
    assert prot.steps[1].relax_s == 1 and prot.steps[0].lead_s == 3.0
    assert P.load_protocol("standard") is P.STANDARD
    path.write_text(json.dumps({"name": "bad", "steps": [{"task": "smile", "hold_s": 500}]}))
    with pytest.raises(P.ProtocolError, match="short.json.*500"):
        P.load_protocol(path)
    with pytest.raises(P.ProtocolError, match="no protocol"):
        P.load_protocol(tmp_path / "missing.json")
