"""VideoReader (real clip, bad and damaged files) and VideoWriter (writes exactly to its path, abort,
read-back check, error surfacing, odd sizes, rotation). Media fidelity (audio, VFR, HDR, codecs):
tests/test_media_fidelity.py."""
from __future__ import annotations

import errno
import os
import wave

import cv2
import numpy as np
import pytest

from fractions import Fraction

from app.video import writer as writer_mod
from app.video.reader import VideoOpenError, VideoReader, grab_frames, sniff_file_kind
from app.video.writer import VideoWriteError, VideoWriter

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


def time_base_for(fps):
    return 1 / Fraction(fps).limit_denominator(1001)


def write_video(path, n=20, size=(320, 240), fps=25.0):
    """Constant-rate video through the writer: pts = frame index in a 1/fps time base."""
    with VideoWriter(path, size, time_base=time_base_for(fps), fps=fps) as w:
        for i in range(n):
            w.write(gradient_frame(size[0], size[1], i), i)
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
        items = [(i, t, f.shape) for i, t, f, _ in r]
    assert len(items) == 275 == r.frames_read
    assert [i for i, _, _ in items] == list(range(275))
    ts = np.array([t for _, t, _ in items])
    assert ts[0] == pytest.approx(0.0, abs=1e-6)
    assert np.all(np.diff(ts) > 0)
    assert np.diff(ts).mean() == pytest.approx(1000 / 29.97, rel=1e-3)
    assert r.ended_early is False and r.timestamp_fallbacks == 0
    assert r.info()["frames_read"] == 275
    assert r.codec == "h264" and r.audio == {"codec": "aac", "sample_rate": 44100, "channels": 2}
    assert r.hdr is None and r.duration_ms == pytest.approx(275 * 1000 / 29.97, rel=1e-3)


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
    """A camera-style MP4 (index written at the end) cut in half loses its index: a clear 'incomplete' error."""
    from tests.av_media import encode_video

    full = encode_video(tmp_path / "full.mp4", [gradient_frame(320, 240, i) for i in range(30)])
    data = full.read_bytes()
    assert data.find(b"moov") > data.find(b"mdat")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    assert sniff_file_kind(cut) == "mp4-no-index"
    with pytest.raises(VideoOpenError, match="incomplete"):
        VideoReader(cut)


def test_truncated_faststart_mp4_ends_early(tmp_path):
    """An MP4 with its index first (our outputs, +faststart) cut in half still opens; the reader stops
    where the data ends and says so."""
    full = tmp_path / "full.mp4"
    write_video(full, n=50, size=(320, 240), fps=25.0)
    data = full.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with VideoReader(cut) as r:
        n = sum(1 for _ in r)
    assert 0 < n < 50 and r.ended_early is True
    assert r.end_reason.startswith("the recording ends early at 0:0") and "of 0:02" in r.end_reason


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
    # the facts for "the recording ends early at 0:01 of 0:02"
    assert r.end_reason.startswith("the recording ends early at 0:01 of 0:02")
    assert r.last_timestamp_ms == pytest.approx((n - 1) * 40, abs=1)


def test_damaged_h264_tail_ends_early(tmp_path, media):
    """The real clip with the second half of its video data zeroed (index intact)."""
    data = bytearray(media(CLIP).read_bytes())
    moov = data.find(b"moov") - 4
    start = moov // 2
    data[start:moov] = bytes(moov - start)
    p = tmp_path / "damaged.mp4"
    p.write_bytes(bytes(data))
    with VideoReader(p) as r:
        ts = [t for _, t, _, _ in r]
    assert 50 < len(ts) < 275
    assert r.ended_early is True
    assert np.all(np.diff(ts) > 0)


# ---- writer ----------------------------------------------------------------------------------------

def test_writes_exactly_to_path_and_reads_back(tmp_path):
    """No temporary name of its own (app/base/outputs chooses and publishes); H.264 yuv420p at the input rate."""
    size, fps, n = (320, 240), 29.97, 24
    p = tmp_path / ".NAME_left.partial.mp4"
    w = VideoWriter(p, size, time_base=time_base_for(fps), fps=fps)
    assert p.exists() and os.listdir(tmp_path) == [p.name]
    for i in range(n):
        w.write(gradient_frame(*size, i), i)
    w.close()
    assert os.listdir(tmp_path) == [p.name] and w.frames_written == n
    with VideoReader(p) as r:
        assert r.frame_size == size and r.codec == "h264" and r.pix_fmt == "yuv420p"
        assert r.fps == pytest.approx(fps, abs=0.01)
        assert r.frame_count_estimate == n
        frames = list(r)
    assert len(frames) == n and not r.ended_early
    assert cv2.PSNR(frames[5].image, gradient_frame(*size, 5)) > 40
    assert np.diff([f.timestamp_ms for f in frames]).mean() == pytest.approx(1000 / fps, rel=1e-3)
    info = w.info()
    assert info["encoder"] == "libx264" and info["pix_fmt"] == "yuv420p" and info["size_adjustment"] is None
    assert info["ffmpeg"].startswith("FFmpeg ") and info["audio"].startswith("none")
    w.close()   # closing twice is harmless


def test_abort_and_exception_leave_no_file(tmp_path):
    w = VideoWriter(tmp_path / "a.mp4", (160, 120), time_base=Fraction(1, 25), fps=25)
    w.write(gradient_frame(160, 120), 0)
    w.abort()
    w.abort()   # idempotent
    assert os.listdir(tmp_path) == []
    with pytest.raises(RuntimeError):
        with VideoWriter(tmp_path / "b.mp4", (160, 120), time_base=Fraction(1, 25), fps=25) as w2:
            w2.write(gradient_frame(160, 120), 0)
            raise RuntimeError("stop requested")
    assert os.listdir(tmp_path) == []
    with pytest.raises(VideoWriteError):
        w.close()   # closing after abort is an error, not a silent success
    with pytest.raises(VideoWriteError):
        w.write(gradient_frame(160, 120), 1)


def test_odd_size_is_cropped_and_said(tmp_path):
    p = tmp_path / "odd.mp4"
    w = VideoWriter(p, (161, 121), time_base=Fraction(1, 25), fps=25)
    assert w.encoded_size == (160, 120)
    src = [gradient_frame(161, 121, i) for i in range(5)]
    for i, f in enumerate(src):
        w.write(f, i)
    w.close()
    note = w.info()["size_adjustment"]
    assert "cropped" in note and "column" in note and "row" in note and "161x121 -> 160x120" in note
    with VideoReader(p) as r:
        assert r.frame_size == (160, 120)
        f = r.first_frame
    assert cv2.PSNR(f, src[0][:120, :160]) > 40
    # only the width odd: only a column
    w = VideoWriter(tmp_path / "odd_w.mp4", (161, 120), time_base=Fraction(1, 25), fps=25)
    assert "column" in w.info()["size_adjustment"] and "row" not in w.info()["size_adjustment"]
    w.abort()


def test_wrong_frames_are_rejected(tmp_path):
    with VideoWriter(tmp_path / "a.mp4", (160, 120), time_base=Fraction(1, 25), fps=25) as w:
        w.write(gradient_frame(160, 120), 0)
        with pytest.raises(ValueError):
            w.write(gradient_frame(161, 120), 1)
        with pytest.raises(ValueError):
            w.write(gradient_frame(160, 120).astype(np.float32), 1)
        with pytest.raises(ValueError):
            w.write(np.zeros((120, 160), np.uint8), 1)
    with VideoReader(tmp_path / "a.mp4") as r:
        assert r.frame_count_estimate == 1


def test_non_increasing_pts_are_moved_and_counted(tmp_path):
    p = tmp_path / "dup.mp4"
    with VideoWriter(p, (160, 120), time_base=Fraction(1, 1000), fps=25) as w:
        for t in (0, 40, 40, 80):
            w.write(gradient_frame(160, 120, t), t)
    assert w.info()["pts_adjusted"] == 1
    with VideoReader(p) as r:
        assert [f.timestamp_ms for f in r] == pytest.approx([0, 40, 41, 80], abs=0.01)


def test_errors_are_surfaced(tmp_path, monkeypatch):
    # missing output folder
    with pytest.raises(VideoWriteError, match="does not exist"):
        VideoWriter(tmp_path / "missing" / "a.mp4", (160, 120), time_base=Fraction(1, 25), fps=25)
    # no frames: an error, and the caller's abort() removes the file
    w = VideoWriter(tmp_path / "empty.mp4", (160, 120), time_base=Fraction(1, 25), fps=25)
    with pytest.raises(VideoWriteError, match="no frames"):
        w.close()
    w.abort()
    assert os.listdir(tmp_path) == []
    # the file cannot be created (e.g. a read-only folder; tests run as root, so injected)
    def deny(path):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))
    monkeypatch.setattr(writer_mod, "_open_output", deny)
    with pytest.raises(VideoWriteError, match="cannot create the file.*Permission denied"):
        VideoWriter(tmp_path / "c.mp4", (160, 120), time_base=Fraction(1, 25), fps=25)


def test_rotation_tag_frames_delivered_upright(tmp_path):
    """A phone-style portrait recording (landscape frames + 90 deg display rotation in 'tkhd'): frames
    come out upright and width/height describe the upright frames."""
    from tests.videos import set_rotation_tag

    p = tmp_path / "portrait.mp4"
    with VideoWriter(p, (160, 120), time_base=Fraction(1, 25), fps=25) as w:
        for i in range(5):
            f = np.zeros((120, 160, 3), np.uint8)
            f[:10, :40] = 255                     # marker in the stored frame's top-left corner
            w.write(f, i)
    set_rotation_tag(p, 90)
    with VideoReader(p) as r:
        assert r.rotation_deg == 90
        assert r.frame_size == (120, 160)
        frames = [f.image for f in r]
    assert len(frames) == 5 and frames[0].shape == (160, 120, 3)
    ys, xs = np.nonzero(frames[0][..., 0] > 128)
    # rotated 90 deg clockwise for display: the marker is now along the top-right edge
    assert ys.max() < 45 and xs.min() > 105


def test_grab_frames_nearest_at_or_after(tmp_path):
    p = tmp_path / "g.mp4"
    write_video(p, n=10, size=(160, 120), fps=25.0)       # frames at 0, 40, ..., 360 ms
    with VideoReader(p) as r:
        frames = [f.image for f in r]
    got = grab_frames(p, [100.0, 0.0, 360.0, 5000.0])
    assert got[3] is None
    for img, k in zip(got[:3], (3, 0, 9)):
        diffs = [np.abs(img.astype(int) - f.astype(int)).mean() for f in frames]
        assert int(np.argmin(diffs)) == k


def test_grab_frames_seeks_far_ahead_same_frames_as_decoding(tmp_path, monkeypatch):
    """Far times are reached by seeking (counted here), near ones by decoding on; both give exactly
    the frames a full pass gives, in the caller's order."""
    from tests.av_media import encode_video, pattern

    p = encode_video(tmp_path / "long.mp4", [pattern(96, 64, i) for i in range(250)], time_base=Fraction(1, 25),
                     options={"g": "25"})                                 # 10 s, a keyframe every second
    with VideoReader(p) as r:
        every = [f.image for f in r]
    decoders = []
    real_decoded = VideoReader._decoded

    def counting(self, container, stream):
        decoders.append(1)
        return real_decoded(self, container, stream)
    monkeypatch.setattr(VideoReader, "_decoded", counting)
    times = [9000.0, 100.0, 5000.0, 5100.0, 20000.0, 0.0]
    got = grab_frames(p, times)
    assert got[4] is None
    for img, k in zip([got[i] for i in (0, 1, 2, 3, 5)], (225, 3, 125, 128, 0)):
        assert np.array_equal(img, every[k]), k
    # opening + seeks to 5000, 9000 and 20000 ms; 100 and 5100 ms were decoded on
    assert len(decoders) == 4


def test_bgr_to_yuv420p_matches_ffmpeg_bt709(tmp_path):
    """The writer's own BGR -> yuv420p BT.709 conversion (OpenCV, faster) agrees with swscale's to within
    rounding, is tagged BT.709 limited range, and converts back to the same BGR image."""
    import av

    from app.video.writer import bgr_to_yuv420p

    img = np.ascontiguousarray(np.concatenate([gradient_frame(322, 120, 3), gradient_frame(322, 120, 9)[::-1]]))
    mine = bgr_to_yuv420p(img)
    ref = av.VideoFrame.from_ndarray(img, format="bgr24").reformat(format="yuv420p", dst_colorspace="itu709",
                                                                   dst_color_range=1)
    for k, width in enumerate((322, 161, 161)):
        a = np.frombuffer(mine.planes[k], np.uint8).reshape(-1, mine.planes[k].line_size)[:, :width]
        b = np.frombuffer(ref.planes[k], np.uint8).reshape(-1, ref.planes[k].line_size)[:, :width]
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 2, k
    assert (mine.colorspace, mine.color_range, mine.color_primaries, mine.color_trc) == (1, 1, 1, 1)
    # 4:2:0 loses saturated colour detail either way; the round trip is at least as good as swscale's
    assert cv2.PSNR(mine.to_ndarray(format="bgr24"), img) >= cv2.PSNR(ref.to_ndarray(format="bgr24"), img) - 0.5


def test_damaged_clip_closes_without_hanging_under_load(tmp_path, media):
    """Regression: a frame-threaded decoder stopped on damaged data used to hang in
    avcodec_free_context (seen 1 in 5 reads with both cores busy). Close now drains it. The reads
    run in a child process so a hang fails the test instead of stopping the suite."""
    import subprocess
    import sys

    from tests.conftest import REPO

    data = bytearray(media(CLIP).read_bytes())
    moov = data.find(b"moov") - 4
    data[moov // 8:moov] = bytes(moov - moov // 8)    # damaged after 31 frames: each read reaches it soon
    # (from 133 frames on, each read cost 4 times the CPU, and the two hogs burn two cores as long)
    p = tmp_path / "damaged.mp4"
    p.write_bytes(bytes(data))
    script = ("import sys\nfrom app.video.reader import VideoReader\n"
              "for i in range(25):\n"
              "    with VideoReader(sys.argv[1]) as r:\n"
              "        n = sum(1 for _ in r)\n"
              "    del r\n"
              "print('reads done')\n")
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        proc = subprocess.run([sys.executable, "-c", script, str(p)], cwd=REPO, capture_output=True,
                              text=True, timeout=90)
    except subprocess.TimeoutExpired:
        pytest.fail("reading and closing a damaged clip hung")
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    assert proc.returncode == 0 and "reads done" in proc.stdout, proc.stderr


def test_start_time_is_the_first_frames_pts_on_the_players_clock(tmp_path):
    """VideoReader.start_time_s: the public fact the report's input.start_time_s comes from."""
    import av

    path = tmp_path / "late.mp4"
    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=30)
        st.width, st.height, st.pix_fmt = 64, 48, "yuv420p"
        for i in range(4):
            frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="bgr24")
            frame.pts = 15 + i                    # codec time base 1/30: the first frame at 0.5 s
            for pk in st.encode(frame):
                out.mux(pk)
        for pk in st.encode():
            out.mux(pk)
    with av.open(str(path)) as c:                # what a player reads
        first = next(c.decode(video=0))
        expected = round(float(first.pts * first.time_base), 6)
    with VideoReader(path) as r:
        assert r.start_time_s == expected == pytest.approx(0.5, abs=0.05)
        assert r.info()["start_time_s"] == r.start_time_s
        assert next(iter(r)).timestamp_ms == 0.0   # frame times count from it
