"""VideoReader (real clip, bad and damaged files) and VideoWriter (temp-then-rename, abort,
codec, read-back, error surfacing, threaded wrapper)."""
from __future__ import annotations

import errno
import os
import wave

import cv2
import numpy as np
import pytest

from app.video import writer as writer_mod
from app.video.reader import VideoOpenError, VideoReader, sniff_file_kind
from app.video.writer import (
    PARTIAL_MARKER,
    VideoWriteError,
    VideoWriter,
    default_codec,
    find_partial_files,
    h264_available,
)

CLIP = "press_room_clip.mp4"


def gradient_frame(w, h, i=0):
    """A smooth frame (compresses well, so read-back can be compared)."""
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None]
    f = np.empty((h, w, 3), np.uint8)
    f[..., 0] = x * 0.5 + y * 0.5
    f[..., 1] = (x + 3 * i) % 256
    f[..., 2] = y
    return f


def write_video(path, n=20, size=(320, 240), fps=25.0, codec=None):
    with VideoWriter(path, fps, size, codec=codec) as w:
        for i in range(n):
            w.write(gradient_frame(size[0], size[1], i))
    return w


# ---- reader: real clip -------------------------------------------------------------------------

def test_reader_real_clip(media):
    path = media(CLIP)
    with VideoReader(path) as r:
        assert r.frame_size == (640, 360)
        assert r.fps == pytest.approx(29.97, abs=0.01) and r.fps_reliable
        assert r.frame_count_estimate == 275
        assert r.rotation_deg == 0
        assert r.first_frame.shape == (360, 640, 3)
        items = [(i, t, f.shape) for i, t, f in r]
    assert len(items) == 275 == r.frames_read
    assert [i for i, _, _ in items] == list(range(275))
    ts = np.array([t for _, t, _ in items])
    assert ts[0] == pytest.approx(0.0, abs=1e-6)
    assert np.all(np.diff(ts) > 0)
    assert np.diff(ts).mean() == pytest.approx(1000 / 29.97, rel=1e-3)
    assert r.ended_early is False and r.timestamp_fallbacks == 0
    assert r.info()["frames_read"] == 275


def test_reader_iterates_again_from_start(media):
    with VideoReader(media(CLIP)) as r:
        first = next(iter(r))
        again = next(iter(r))
    assert first.index == again.index == 0
    assert np.array_equal(first.image, again.image)


# ---- reader: bad files ---------------------------------------------------------------------------

def test_zero_byte_file(tmp_path):
    p = tmp_path / "empty.mp4"
    p.write_bytes(b"")
    with pytest.raises(VideoOpenError, match="empty"):
        VideoReader(p)


def test_text_file_named_mp4(tmp_path):
    p = tmp_path / "notes.mp4"
    p.write_text("patient 12, smile, eye closure\n" * 50)
    with pytest.raises(VideoOpenError, match="text file, not a video"):
        VideoReader(p)


def test_image_file_and_image_renamed_mp4(tmp_path):
    ok, buf = cv2.imencode(".jpg", gradient_frame(64, 48))
    assert ok
    for name in ("photo.jpg", "photo.mp4"):
        p = tmp_path / name
        p.write_bytes(buf.tobytes())
        with pytest.raises(VideoOpenError, match="still image") as e:
            VideoReader(p)
        assert str(e.value).startswith(name)
    ok, png = cv2.imencode(".png", gradient_frame(64, 48))
    (tmp_path / "shot.mov").write_bytes(png.tobytes())
    with pytest.raises(VideoOpenError, match=r"still image \(PNG\)"):
        VideoReader(tmp_path / "shot.mov")


def test_real_photo_path(media):
    with pytest.raises(VideoOpenError, match="still image"):
        VideoReader(media("portrait_frontal.jpg"))


def test_audio_only(tmp_path):
    p = tmp_path / "voice.mp4"
    with wave.open(str(p), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.zeros(8000, np.int16).tobytes())
    with pytest.raises(VideoOpenError, match="audio only"):
        VideoReader(p)


def test_missing_folder_and_garbage(tmp_path):
    with pytest.raises(VideoOpenError, match="not found"):
        VideoReader(tmp_path / "nope.mp4")
    with pytest.raises(VideoOpenError, match="folder"):
        VideoReader(tmp_path)
    p = tmp_path / "noise.mp4"
    p.write_bytes(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    with pytest.raises(VideoOpenError, match="cannot be opened|not a video"):
        VideoReader(p)


def test_unreadable_file_permission_denied_simulated(tmp_path, monkeypatch):
    """Tests run as root, which reads any file; the denial is injected where the file is first read."""
    import builtins

    p = tmp_path / "locked.mp4"
    write_video(p, n=3)
    real_open = builtins.open

    def deny(file, *args, **kwargs):
        if str(file) == str(p):
            raise PermissionError(13, "Permission denied", str(p))
        return real_open(file, *args, **kwargs)
    monkeypatch.setattr(builtins, "open", deny)
    with pytest.raises(VideoOpenError, match="permission denied"):
        VideoReader(p)


def test_truncated_mp4_written_file_cut_in_half(tmp_path):
    """An MP4 cut in half loses its index (written at the end): a clear 'incomplete' error."""
    full = tmp_path / "full.mp4"
    write_video(full, n=30)
    data = full.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    assert sniff_file_kind(cut) == "mp4-no-index"
    with pytest.raises(VideoOpenError, match="incomplete"):
        VideoReader(cut)


def test_truncated_avi_ends_early(tmp_path):
    """An AVI cut in half still opens: the reader yields what it can and records the early end."""
    full = tmp_path / "full.avi"
    w = cv2.VideoWriter(str(full), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (160, 120))
    assert w.isOpened()
    for i in range(60):
        w.write(gradient_frame(160, 120, i))
    w.release()
    data = full.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    with VideoReader(cut) as r:
        assert r.frame_count_estimate == 60
        n = sum(1 for _ in r)
    assert 0 < n < 60 and r.frames_read == n
    assert r.ended_early is True and "truncated" in r.end_reason


def test_damaged_h264_tail_ends_early(tmp_path, media):
    """The real clip with the second half of its video data zeroed (index intact)."""
    data = bytearray(media(CLIP).read_bytes())
    moov = data.find(b"moov") - 4
    start = moov // 2
    data[start:moov] = bytes(moov - start)
    p = tmp_path / "damaged.mp4"
    p.write_bytes(bytes(data))
    with VideoReader(p) as r:
        ts = [t for _, t, _ in r]
    assert 50 < len(ts) < 275
    assert r.ended_early is True
    assert np.all(np.diff(ts) > 0)


# ---- writer ----------------------------------------------------------------------------------------

def test_codec_probe_is_cached_and_recorded(tmp_path):
    h264_available.cache_clear()
    first = h264_available()
    assert h264_available() is first
    assert h264_available.cache_info().hits >= 1
    assert default_codec() == ("avc1" if first else "mp4v")
    w = write_video(tmp_path / "a.mp4", n=3)
    assert w.codec == default_codec()


def test_temp_then_rename(tmp_path):
    final = tmp_path / "NAME_left_mirrored.mp4"
    w = VideoWriter(final, 25.0, (160, 120))
    for i in range(10):
        w.write(gradient_frame(160, 120, i))
    assert not final.exists()
    assert w.temp_path.parent == tmp_path and w.temp_path.name.startswith(".")
    assert PARTIAL_MARKER in w.temp_path.name and w.temp_path.exists()
    assert find_partial_files(tmp_path) == [w.temp_path]
    tmp = w.temp_path
    assert w.close() == final
    assert final.exists() and final.stat().st_size > 0
    assert not tmp.exists() and find_partial_files(tmp_path) == []
    assert sorted(os.listdir(tmp_path)) == ["NAME_left_mirrored.mp4"]


def test_abort_and_exception_leave_no_file(tmp_path):
    w = VideoWriter(tmp_path / "a.mp4", 25.0, (160, 120))
    w.write(gradient_frame(160, 120))
    w.abort()
    w.abort()   # idempotent
    assert os.listdir(tmp_path) == []
    with pytest.raises(RuntimeError):
        with VideoWriter(tmp_path / "b.mp4", 25.0, (160, 120)) as w2:
            w2.write(gradient_frame(160, 120))
            raise RuntimeError("stop requested")
    assert os.listdir(tmp_path) == []
    with pytest.raises(VideoWriteError):
        w.close()   # closing after abort is an error, not a silent commit


def test_read_back_same_size_fps_count(tmp_path):
    size, fps, n = (320, 240), 29.97, 24
    p = tmp_path / "rt.mp4"
    write_video(p, n=n, size=size, fps=fps)
    with VideoReader(p) as r:
        assert r.frame_size == size
        assert r.fps == pytest.approx(fps, abs=0.01)
        assert r.frame_count_estimate == n
        frames = list(r)
    assert len(frames) == n and not r.ended_early
    assert cv2.PSNR(frames[5].image, gradient_frame(*size, 5)) > 30
    assert np.diff([f.timestamp_ms for f in frames]).mean() == pytest.approx(1000 / fps, rel=1e-3)


def test_odd_size_is_padded_not_cropped(tmp_path):
    p = tmp_path / "odd.mp4"
    w = VideoWriter(p, 25.0, (161, 121))
    assert w.encoded_size == (162, 122)
    for i in range(5):
        w.write(gradient_frame(161, 121, i))
    w.close()
    with VideoReader(p) as r:
        assert r.frame_size == (162, 122)
        f = r.first_frame
    # black padding (one column/row; 4:2:0 chroma bleeds into it a little)
    assert f[:, 161].mean() < 25 and f[121, :].mean() < 25
    assert cv2.PSNR(f[:121, :161], gradient_frame(161, 121, 0)) > 28


def test_wrong_frames_are_rejected(tmp_path):
    with VideoWriter(tmp_path / "a.mp4", 25.0, (160, 120)) as w:
        w.write(gradient_frame(160, 120))
        with pytest.raises(ValueError):
            w.write(gradient_frame(161, 120))
        with pytest.raises(ValueError):
            w.write(gradient_frame(160, 120).astype(np.float32))
        with pytest.raises(ValueError):
            w.write(np.zeros((120, 160), np.uint8))
    with VideoReader(tmp_path / "a.mp4") as r:
        assert r.frame_count_estimate == 1


def test_never_overwrites_unless_asked(tmp_path):
    p = tmp_path / "x.mp4"
    p.write_bytes(b"precious")
    with pytest.raises(FileExistsError):
        VideoWriter(p, 25.0, (160, 120))
    assert p.read_bytes() == b"precious"
    # a file that appears while writing is not replaced either
    q = tmp_path / "y.mp4"
    w = VideoWriter(q, 25.0, (160, 120))
    w.write(gradient_frame(160, 120))
    q.write_bytes(b"appeared meanwhile")
    with pytest.raises(FileExistsError):
        w.close()
    assert q.read_bytes() == b"appeared meanwhile"
    assert find_partial_files(tmp_path) == []
    # explicit overwrite
    write_video_ow = VideoWriter(p, 25.0, (160, 120), overwrite=True)
    write_video_ow.write(gradient_frame(160, 120))
    write_video_ow.close()
    assert p.read_bytes() != b"precious"


def test_errors_are_surfaced(tmp_path, monkeypatch):
    # missing output folder
    with pytest.raises(VideoWriteError, match="does not exist"):
        VideoWriter(tmp_path / "missing" / "a.mp4", 25.0, (160, 120))
    # no frames
    w = VideoWriter(tmp_path / "empty.mp4", 25.0, (160, 120))
    with pytest.raises(VideoWriteError, match="no frames"):
        w.close()
    assert os.listdir(tmp_path) == []
    # written file unreadable (as after a disk-full write)
    w = VideoWriter(tmp_path / "bad.mp4", 25.0, (160, 120))
    w.write(gradient_frame(160, 120))
    w._writer.release()
    w.temp_path.write_bytes(b"\x00" * 100)
    with pytest.raises(VideoWriteError, match="cannot be read back"):
        w.close()
    assert os.listdir(tmp_path) == []
    # rename fails (e.g. ENOSPC / permissions on the final name)
    def fail(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")
    w = VideoWriter(tmp_path / "c.mp4", 25.0, (160, 120))
    w.write(gradient_frame(160, 120))
    monkeypatch.setattr(writer_mod.os, "link", fail)
    monkeypatch.setattr(writer_mod.os, "replace", fail)
    with pytest.raises(VideoWriteError, match="could not be moved into place.*No space"):
        w.close()
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []


def test_disk_full_is_detected(tmp_path, monkeypatch):
    monkeypatch.setattr(writer_mod, "_free_bytes", lambda folder: 1024)
    with pytest.raises(VideoWriteError, match="free disk space"):
        VideoWriter(tmp_path / "a.mp4", 25.0, (160, 120))
    # space runs out while writing
    free = {"bytes": 10 ** 12}
    monkeypatch.setattr(writer_mod, "_free_bytes", lambda folder: free["bytes"])
    w = VideoWriter(tmp_path / "b.mp4", 25.0, (160, 120))
    for _i in range(VideoWriter.SPACE_CHECK_EVERY - 1):
        w.write(gradient_frame(160, 120))
    free["bytes"] = 1024
    with pytest.raises(VideoWriteError, match="disk is full"):
        w.write(gradient_frame(160, 120))
    assert os.listdir(tmp_path) == []


def test_rotation_tag_frames_delivered_upright(tmp_path):
    """A phone-style portrait recording (landscape frames + 90 deg display rotation tag): frames
    come out upright and width/height describe the upright frames."""
    from tests.videos import set_rotation_tag

    p = tmp_path / "portrait.mp4"
    with VideoWriter(p, 25.0, (160, 120)) as w:
        for _ in range(5):
            f = np.zeros((120, 160, 3), np.uint8)
            f[:10, :40] = 255                     # marker in the stored frame's top-left corner
            w.write(f)
    set_rotation_tag(p, 90)
    with VideoReader(p) as r:
        assert r.rotation_deg == 90
        assert r.frame_size == (120, 160)
        frames = [img for _, _, img in r]
    assert len(frames) == 5 and frames[0].shape == (160, 120, 3)
    ys, xs = np.nonzero(frames[0][..., 0] > 128)
    # rotated 90 deg clockwise for display: the marker is now along the top-right edge
    assert ys.max() < 45 and xs.min() > 105
