"""A converter puts its verified model in place without replacing a file that appeared meanwhile
(unless --overwrite): the no-clobber move is one system call, not a check before a rename."""
from __future__ import annotations

import os

import pytest

from app.convert.common import ConvertError, finish_output, temp_output_path


def _tmp(out, data=b"new"):
    tmp = temp_output_path(out)
    tmp.write_bytes(data)
    return tmp


def test_the_model_moves_into_place(tmp_path):
    out = tmp_path / "m.onnx"
    tmp = _tmp(out)
    finish_output(tmp, out, overwrite=False)
    assert out.read_bytes() == b"new" and not tmp.exists()


def test_a_file_that_appeared_meanwhile_is_kept(tmp_path, monkeypatch):
    out = tmp_path / "m.onnx"
    tmp = _tmp(out)
    # The other file appears after any check a caller could make, right before the move.
    real_link = os.link

    def link_after_another_writer(src, dst, *a, **kw):
        out.write_bytes(b"theirs")
        return real_link(src, dst, *a, **kw)
    monkeypatch.setattr(os, "link", link_after_another_writer)
    with pytest.raises(ConvertError, match="already exists"):
        finish_output(tmp, out, overwrite=False)
    assert out.read_bytes() == b"theirs" and tmp.exists()     # the caller discards tmp


def test_without_hard_links_an_existing_file_is_still_refused(tmp_path, monkeypatch):
    out = tmp_path / "m.onnx"
    tmp = _tmp(out)

    def no_links(*a, **kw):
        raise PermissionError("hard links not supported")
    monkeypatch.setattr(os, "link", no_links)
    finish_output(tmp, out, overwrite=False)
    assert out.read_bytes() == b"new" and not tmp.exists()
    tmp = _tmp(out, b"newer")
    with pytest.raises(ConvertError, match="already exists"):
        finish_output(tmp, out, overwrite=False)
    assert out.read_bytes() == b"new"


def test_overwrite_replaces(tmp_path):
    out = tmp_path / "m.onnx"
    out.write_bytes(b"old")
    finish_output(_tmp(out), out, overwrite=True)
    assert out.read_bytes() == b"new"
