"""The pinned Qt binding keeps None's reference count (issue 31).

PySide6 6.12.0 on CPython 3.11 took one reference from None on every Qt call that returns None
(`QLabel.setText`, `setObjectName`, `QTimer.start`...) without giving it back; after a few
minutes of a window updating its labels the count reached zero and Python aborted with
"Fatal Python error: none_dealloc: deallocating None". PySide6 6.11.3 does not. From Python 3.12
None is immortal and its count means nothing, so the test only runs where it can fail.
"""
from __future__ import annotations

import sys

import pytest

pytestmark = pytest.mark.skipif(sys.version_info >= (3, 12),
                                reason="None is immortal from Python 3.12: its reference count cannot fall")

CALLS = 10_000


def test_qt_calls_returning_none_keep_nones_reference_count(qtbot):
    from PySide6.QtCore import QObject, QTimer
    from PySide6.QtWidgets import QLabel, QProgressBar, QWidget

    label, bar, parent, timer, obj = QLabel(), QProgressBar(), QWidget(), QTimer(), QObject()
    qtbot.addWidget(label)
    qtbot.addWidget(parent)
    # Each returns None; together they are what the window does on every frame and progress tick.
    calls = (
        lambda: label.setText("42 frames/s"),
        lambda: label.setObjectName("status"),
        lambda: bar.setValue(7),
        lambda: parent.setWindowTitle("FaceMirror"),
        lambda: timer.setInterval(200),
        lambda: obj.parent(),                       # a getter that returns None (no parent)
        lambda: label.setToolTip("x"),
        lambda: parent.update(),
    )
    for call in calls:      # warm-up: first calls may create cached objects
        call()
    before = sys.getrefcount(None)
    for i in range(CALLS):
        calls[i % len(calls)]()
    lost = before - sys.getrefcount(None)
    # A leak loses one per call (10,000); unrelated allocations move the count by a handful at most.
    assert lost < 50, (f"{lost} references to None lost over {CALLS} Qt calls: this PySide6 mis-counts None "
                       f"and a window will abort with 'none_dealloc' after minutes (pin PySide6 6.11.x)")


def test_the_pinned_binding_is_the_one_installed():
    """The test above proves the installed binding; this ties it to pyproject's pin, so the app
    bundle (built from the same pins) carries the binding that was tested."""
    import tomllib
    from pathlib import Path

    import PySide6

    pins = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
    deps = {d.split("==")[0].strip(): d.split("==")[1].split()[0].strip()
            for d in pins["project"]["dependencies"] if "==" in d}
    assert deps["PySide6-Essentials"] == deps["PySide6-Addons"] == PySide6.__version__
    assert not PySide6.__version__.startswith("6.12.0"), "PySide6 6.12.0 leaks references to None on Python 3.11"
