"""Faults found while simplifying the follow-up code (issue 34 review): each was a traceback or a
hidden earlier result; each is now one sentence, or the earlier files back in place."""
from __future__ import annotations

import io
import os
from types import SimpleNamespace

import pytest

from app.followup import publish, tables
from app.followup.study_table import study_command


@pytest.mark.parametrize("content", [b",,,\n", b";;;\n ; ;\n"])
def test_a_table_of_only_separators_is_called_empty(tmp_path, content):
    path = tmp_path / "grades.csv"
    path.write_bytes(content)
    with pytest.raises(tables.TableError, match="grades.csv is empty"):
        tables.scan_table(path)


def test_a_utf8_mark_before_bytes_that_are_not_utf8_is_said_not_raised(tmp_path):
    path = tmp_path / "grades.csv"
    path.write_bytes(b"\xef\xbb\xbfpatient,grade\nP1,\xe9\n")
    with pytest.raises(tables.TableError, match="byte-order mark but is not valid UTF-8"):
        tables.scan_table(path)


def test_a_study_table_name_longer_than_the_file_system_allows_is_one_sentence(tmp_path):
    out, err = io.StringIO(), io.StringIO()
    target = tmp_path / ("s" * 300 + ".csv")
    code = study_command(SimpleNamespace(folders=[str(tmp_path)], out=str(target), overwrite=False), out=out, err=err)
    assert code != 0
    assert "Traceback" not in err.getvalue() and "cannot use" in err.getvalue()
    assert os.listdir(tmp_path) == []


def test_an_interrupt_between_the_renames_puts_the_earlier_results_back(tmp_path, monkeypatch):
    a, b = tmp_path / "compare_P.html", tmp_path / "compare.json"
    a.write_text("earlier page")
    b.write_text("earlier json")
    real_rename = os.rename
    fired = []

    def interrupted(src, dst):
        if str(dst) == str(b) and not fired:     # Ctrl-C lands after the first new file is in place
            fired.append(dst)
            raise KeyboardInterrupt
        return real_rename(src, dst)

    monkeypatch.setattr(publish.os, "rename", interrupted)
    with pytest.raises(KeyboardInterrupt):
        publish.write_all({a: "new page", b: "{}"}, overwrite=True)
    assert a.read_text() == "earlier page" and b.read_text() == "earlier json"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compare.json", "compare_P.html"]
