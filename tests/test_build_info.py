"""build_info.json written by the spec, read by the app (bundle folder injected)."""
from __future__ import annotations

import pytest

from app.base import build_info, paths


@pytest.fixture(autouse=True)
def fresh_cache():
    build_info.build_info.cache_clear()
    yield
    build_info.build_info.cache_clear()


def test_from_source_there_is_no_build_note(monkeypatch):
    monkeypatch.setattr(paths, "bundle_dir", lambda: None)
    assert build_info.build_info() == {} and build_info.build_note() == ""


def test_detector_only_bundle_says_so(monkeypatch, tmp_path):
    (tmp_path / build_info.FILE_NAME).write_text('{"version": "0.1.0", "detector_only": true}')
    monkeypatch.setattr(paths, "bundle_dir", lambda: tmp_path)
    assert build_info.detector_only() and build_info.build_note() == "detector-only build"


def test_full_or_unreadable_bundle_info_has_no_note(monkeypatch, tmp_path):
    monkeypatch.setattr(paths, "bundle_dir", lambda: tmp_path)
    (tmp_path / build_info.FILE_NAME).write_text('{"detector_only": false}')
    assert build_info.build_note() == ""
    build_info.build_info.cache_clear()
    (tmp_path / build_info.FILE_NAME).write_text("{not json")
    assert build_info.build_info() == {} and build_info.build_note() == ""


def test_diagnostic_info_names_a_detector_only_build(monkeypatch):
    from app.base import diagnostics

    monkeypatch.setattr(build_info, "build_info", lambda: {"detector_only": True})
    assert diagnostics.diagnostic_text().splitlines()[0].endswith("(detector-only build)")
    monkeypatch.setattr(build_info, "build_info", lambda: {})
    assert "detector-only" not in diagnostics.diagnostic_text()
