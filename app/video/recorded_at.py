"""When a recording was made, for the summary's record: the container's creation time when the
camera wrote one, else the file's modification time, labelled as such (PyAV only)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import av

CONTAINER = "recording's own creation time (container metadata)"
FILE_TIME = "file modification time (the recording carries no date of its own)"


def _parse(text: str) -> dt.datetime | None:
    try:
        stamp = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    # Cameras with no clock write 1904-01-01 or 1970-01-01 (the epochs of their formats): not a date.
    return stamp if stamp.year >= 1990 else None


def recorded_at(path: Path) -> tuple[str | None, str | None]:
    """(ISO 8601 time, where it comes from), or (None, None) when neither is known."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            tags = [container.metadata] + [s.metadata for s in container.streams]
            for meta in tags:
                stamp = _parse(str(meta.get("creation_time", "")))
                if stamp is not None:
                    return stamp.isoformat(), CONTAINER
    except (av.FFmpegError, OSError, ValueError):
        pass
    try:
        mtime = Path(path).stat().st_mtime
    except OSError:
        return None, None
    return dt.datetime.fromtimestamp(mtime, dt.timezone.utc).isoformat(timespec="seconds"), FILE_TIME
