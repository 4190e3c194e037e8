"""Issue 10, media fidelity: media generated with PyAV itself, read with VideoReader and re-written with
VideoWriter the way the pipeline does (image + the input frame's pts, audio from the input file).

Asserts: audio packets byte-identical (or re-encoded to AAC where MP4 cannot hold the codec), frame
times equal to the millisecond (VFR), upright output from rotated input, H.264 yuv420p, Y-PSNR >= 40 dB
against the frames written, HDR converted to SDR, short/corrupt output raises, write errors raise at
once, encoder choice with the platform facts injected, FFmpeg messages in logging not on the terminal.
"""
from __future__ import annotations

import errno
import io
import logging
from fractions import Fraction

import av
import numpy as np
import pytest

from app.video import encoders
from app.video import writer as writer_mod
from app.video.reader import VideoReader
from app.video.writer import VideoWriteError, VideoWriter
from tests.av_media import F, encode_hdr_hevc, encode_video, has_encoder, pattern, y_psnr


def mirror_copy(src, dst, *, audio=True, transform=None):
    """Read src and write every frame to dst with its pts, as the pipeline does; returns (reader info,
    frames written, writer)."""
    written = []
    with VideoReader(src) as r:
        w = VideoWriter(dst, r.frame_size, time_base=r.time_base, fps=r.fps, audio_source=src if audio else None)
        try:
            for f in r:
                img = transform(f.image) if transform else f.image
                w.write(img, f.pts)
                written.append((f.timestamp_ms, img))
            w.close()
        except BaseException:
            w.abort()
            raise
        return r.info(), written, w


def read_all(path):
    with VideoReader(path) as r:
        return r.info(), [(f.timestamp_ms, f.image) for f in r]


def audio_packets(path):
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        return s.codec_context.name, [bytes(p) for p in c.demux(s) if p.size]


def audio_seconds(path):
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        last = [p for p in c.demux(s) if p.size][-1]
        return float((last.pts + last.duration) * last.time_base)


def assert_h264_yuv420p(path):
    with av.open(str(path)) as c:
        ctx = c.streams.video[0].codec_context
        assert (ctx.name, ctx.pix_fmt) == ("h264", "yuv420p")


# ---- audio, timing, quality ----------------------------------------------------------------------

def test_aac_track_copied_byte_identical_times_equal_psnr(tmp_path):
    src = encode_video(tmp_path / "phone.mp4", [pattern(192, 108, i) for i in range(50)],
                       time_base=F(1, 25), audio="aac")
    info, written, w = mirror_copy(src, tmp_path / "out.mp4", transform=lambda im: im[:, ::-1].copy())
    out = tmp_path / "out.mp4"
    assert w.info()["audio"] == "copied (aac)" and info["audio"]["codec"] == "aac"
    assert audio_packets(out) == audio_packets(src)
    assert audio_seconds(out) == pytest.approx(audio_seconds(src), abs=1e-6)
    assert audio_seconds(out) >= 2.0 - 0.03          # covers the input's 2 s
    assert_h264_yuv420p(out)
    _, frames = read_all(out)
    assert len(frames) == len(written) == 50
    assert [t for t, _ in frames] == pytest.approx([t for t, _ in written], abs=1.0)
    psnr = [y_psnr(a, b) for (_, a), (_, b) in zip(frames, written)]
    assert np.mean(psnr) >= 40.0 and min(psnr) >= 38.0, psnr


def test_vfr_frame_times_kept_to_the_millisecond(tmp_path):
    rng = np.random.default_rng(3)
    gaps = rng.choice([17, 33, 50, 100, 21], size=39)     # ms: a phone camera slowing in low light
    pts = np.concatenate([[0], np.cumsum(gaps)]).tolist()
    src = encode_video(tmp_path / "vfr.mkv", [pattern(160, 96, i) for i in range(40)], time_base=F(1, 1000),
                       pts=pts, audio="aac")
    with VideoReader(src) as r:
        got = [f.timestamp_ms for f in r]
    assert got == pytest.approx(pts, abs=1e-6)       # the reader: exact, not a constant rate
    out = tmp_path / "vfr_out.mp4"
    mirror_copy(src, out)
    _, frames = read_all(out)
    assert [t for t, _ in frames] == pytest.approx(pts, abs=1.0)
    # the frame at 1.00 s in the input is at 1.00 s in the output (the 1.90 s symptom)
    k = pts.index(min(pts, key=lambda t: abs(t - 1000)))
    assert frames[k][0] == pytest.approx(pts[k], abs=1.0)
    assert audio_packets(out) == audio_packets(src)


def test_start_offset_and_sync_kept(tmp_path):
    """A recording whose first frame is not at pts 0 (edit lists, cut files): pts pass through unchanged."""
    src = encode_video(tmp_path / "offset.mkv", [pattern(128, 96, i) for i in range(20)], time_base=F(1, 1000),
                       pts=[500 + 40 * i for i in range(20)])
    out = tmp_path / "offset_out.mp4"
    mirror_copy(src, out)
    with av.open(str(out)) as c:
        s = c.streams.video[0]
        first = min(float(p.pts * p.time_base) for p in c.demux(s) if p.size)
    assert first == pytest.approx(0.5, abs=0.002)
    _, frames = read_all(out)
    assert frames[0][0] == 0.0 and frames[-1][0] == pytest.approx(19 * 40, abs=1.0)


@pytest.mark.skipif(not has_encoder("libopus") or not has_encoder("libvpx-vp9"), reason="no VP9/Opus encoder")
def test_opus_in_webm_is_reencoded_to_aac(tmp_path):
    src = encode_video(tmp_path / "clip.webm", [pattern(160, 96, i) for i in range(25)], codec="libvpx-vp9",
                       time_base=F(1, 1000), pts=[40 * i for i in range(25)], audio="libopus",
                       options={"deadline": "realtime", "cpu-used": "8", "crf": "20", "b": "0"})
    info, written, w = mirror_copy(src, tmp_path / "out.mp4")
    assert info["codec"] == "vp9" and info["audio"]["codec"] == "opus"
    assert w.info()["audio"].startswith("re-encoded to AAC")
    codec, packets = audio_packets(tmp_path / "out.mp4")
    assert codec == "aac" and len(packets) > 20
    assert audio_seconds(tmp_path / "out.mp4") >= 1.0 - 0.05


def test_no_audio_requested_or_present(tmp_path):
    src = encode_video(tmp_path / "mute.mp4", [pattern(128, 96, i) for i in range(10)])
    _, _, w = mirror_copy(src, tmp_path / "a.mp4")              # input without audio
    assert w.info()["audio"].startswith("none (the input has no audio)")
    withaudio = encode_video(tmp_path / "talk.mp4", [pattern(128, 96, i) for i in range(10)], audio="aac")
    _, _, w = mirror_copy(withaudio, tmp_path / "b.mp4", audio=False)   # --no-audio
    assert w.info()["audio"] == "none (not requested)"
    with av.open(str(tmp_path / "b.mp4")) as c:
        assert not c.streams.audio


def test_audio_interleaved_with_video_not_appended(tmp_path):
    """Audio is muxed as frames are written (memory flat in video length): in the file, audio and video
    data alternate instead of all audio after all video."""
    src = encode_video(tmp_path / "long.mp4", [pattern(128, 96, i) for i in range(75)], audio="aac")
    mirror_copy(src, tmp_path / "out.mp4")
    with av.open(str(tmp_path / "out.mp4")) as c:
        kinds = [p.stream.type for p in c.demux() if p.size]
    switches = sum(1 for a, b in zip(kinds, kinds[1:]) if a != b)
    assert switches >= 4, kinds


# ---- rotation, sizes --------------------------------------------------------------------------------

@pytest.mark.parametrize("ccw,expected_cw", [(90, 270), (-90, 90), (180, 180)])
def test_display_rotation_applied_output_upright(tmp_path, ccw, expected_cw):
    img = np.zeros((96, 160, 3), np.uint8)
    img[:12, :40] = 255                               # marker in the stored top-left corner
    src = encode_video(tmp_path / "rot.mp4", [img] * 6, rotation_ccw=ccw, audio="aac")
    info, written, _ = mirror_copy(src, tmp_path / "out.mp4")
    assert info["rotation_deg"] == expected_cw
    up = written[0][1]
    expected = np.rot90(img, k=ccw // 90)            # np.rot90 turns counter-clockwise, like the matrix
    assert up.shape == expected.shape
    assert y_psnr(up, expected) > 30
    out_info, frames = read_all(tmp_path / "out.mp4")
    assert out_info["rotation_deg"] == 0 and frames[0][1].shape == expected.shape   # stored upright
    assert y_psnr(frames[0][1], expected) > 30


def test_odd_size_cropped_and_reported(tmp_path):
    src = encode_video(tmp_path / "odd.mkv", [pattern(161, 121, i) for i in range(8)], codec="libx264",
                       pix_fmt="yuv444p")
    info, written, w = mirror_copy(src, tmp_path / "out.mp4")
    assert info["width"] == 161 and info["height"] == 121
    assert "cropped" in w.info()["size_adjustment"]
    _, frames = read_all(tmp_path / "out.mp4")
    assert frames[0][1].shape == (120, 160, 3)
    psnr = [y_psnr(a[:120, :160], b) for (_, a), (_, b) in zip(written, frames)]
    assert np.mean(psnr) >= 40 and min(psnr) >= 38, psnr


# ---- codecs and containers --------------------------------------------------------------------------

CASES = [
    ("mjpeg.avi", "mjpeg", "yuvj420p", {}),
    ("h264.mkv", "libx264", "yuv420p", {}),
    ("hevc.mp4", "libx265", "yuv420p", {"x265-params": "log-level=error"}),
    ("hevc10.mov", "libx265", "yuv420p10le", {"x265-params": "log-level=error"}),
    ("prores.mov", "prores", "yuv422p10le", {}),
    ("vp9.webm", "libvpx-vp9", "yuv420p", {"deadline": "realtime", "cpu-used": "8", "crf": "20", "b": "0"}),
    ("mpeg4.m4v", "mpeg4", "yuv420p", {"qscale": "2"}),
]


@pytest.mark.parametrize("name,codec,pix_fmt,options", CASES, ids=[c[0] for c in CASES])
def test_containers_and_codecs_read_and_rewritten(tmp_path, name, codec, pix_fmt, options):
    if not has_encoder(codec):
        pytest.skip(f"this FFmpeg build cannot make {codec} test media")
    src_frames = [pattern(160, 96, i) for i in range(12)]
    tb = F(1, 1000) if name.endswith((".webm", ".mkv")) else F(1, 25)
    pts = [40 * i for i in range(12)] if tb == F(1, 1000) else list(range(12))
    src = encode_video(tmp_path / name, src_frames, codec=codec, pix_fmt=pix_fmt, time_base=tb, pts=pts,
                       options=options)
    info, written, w = mirror_copy(src, tmp_path / "out.mp4")
    assert len(written) == 12 and info["ended_early"] is False
    assert [t for t, _ in written] == pytest.approx([40.0 * i for i in range(12)], abs=1e-6)
    assert min(y_psnr(img, ref) for (_, img), ref in zip(written, src_frames)) > 30   # decoded right
    assert_h264_yuv420p(tmp_path / "out.mp4")
    _, frames = read_all(tmp_path / "out.mp4")
    psnr = [y_psnr(a, b) for (_, a), (_, b) in zip(frames, written)]   # Y-PSNR of the output: mean over frames
    assert np.mean(psnr) >= 40 and min(psnr) >= 38, psnr


# ---- HDR ----------------------------------------------------------------------------------------------

@pytest.mark.skipif(not has_encoder("libx265"), reason="no libx265 to make 10-bit HEVC")
@pytest.mark.parametrize("kind,transfer", [("hlg", "arib-std-b67"), ("pq", "smpte2084")])
def test_10bit_hdr_converted_to_sdr(tmp_path, kind, transfer):
    sdr = [pattern(160, 96, i) for i in range(4)]
    src = encode_hdr_hevc(tmp_path / f"{kind}.mp4", sdr, kind)
    with VideoReader(src) as r:
        assert r.pix_fmt == "yuv420p10le"
        assert r.hdr["transfer"] == transfer and r.hdr["converted_to_sdr"] is True
        assert "converted to SDR BT.709" in r.hdr["note"] and r.info()["hdr"] == r.hdr
        frames = [f.image for f in r]
    with av.open(str(src)) as c:                       # what an unconverted (washed-out) reading gives
        naive = [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
    converted = np.mean([y_psnr(a, b) for a, b in zip(frames, sdr)])
    washed = np.mean([y_psnr(a, b) for a, b in zip(naive, sdr)])
    # measured on this content: HLG 29.1 vs 24.5 dB, PQ 21.8 vs 18.3 dB (converted vs shown as SDR)
    assert converted > washed + 3 and converted > 20, (converted, washed)


# ---- errors: short/corrupt output, failing writes --------------------------------------------------

class FailingFile(io.RawIOBase):
    """A file object that fails like a full disk once `limit` bytes were written."""

    def __init__(self, path, limit, err=errno.ENOSPC):
        self._fh = open(path, "w+b")
        self.limit, self.err, self.written = limit, err, 0
        self.name = str(path)        # FFmpeg re-opens the file by name to move the index first (+faststart)

    def writable(self):
        return True

    def readable(self):
        return True

    def seekable(self):
        return True

    def write(self, b):
        if self.written + len(b) > self.limit:
            raise OSError(self.err, "No space left on device" if self.err == errno.ENOSPC else "I/O error")
        self.written += len(b)
        return self._fh.write(b)

    def read(self, n=-1):
        return self._fh.read(n)

    def seek(self, off, whence=0):
        return self._fh.seek(off, whence)

    def tell(self):
        return self._fh.tell()

    def close(self):
        self._fh.close()
        super().close()


def noisy(w, h, i):
    return np.random.default_rng(i).integers(0, 256, (h, w, 3), np.uint8)   # incompressible: data flows


@pytest.mark.parametrize("err,words", [(errno.ENOSPC, "disk is full"), (errno.EIO, "input/output error")])
def test_failing_file_object_raises_at_once(tmp_path, monkeypatch, err, words):
    monkeypatch.setattr(writer_mod, "_open_output", lambda p: FailingFile(p, 300_000, err))
    out = tmp_path / "full.mp4"
    w = VideoWriter(out, (320, 240), time_base=Fraction(1, 25), fps=25)
    with pytest.raises(VideoWriteError, match=words):
        for i in range(200):
            w.write(noisy(320, 240, i), i)
    # at once: within the frames the encoder holds back (lookahead + threads), not at close()
    assert w.frames_written < 80, w.frames_written
    with pytest.raises(VideoWriteError, match="failed"):
        w.write(noisy(320, 240, 999), 999)
    with pytest.raises(VideoWriteError):
        w.close()
    w.abort()
    assert not out.exists()


class DroppingFile(FailingFile):
    """Loses data silently after `limit` bytes (a write that 'succeeded' but never reached the disk)."""

    def write(self, b):
        self.written += len(b)
        if self.written > self.limit:
            return len(b)
        return self._fh.write(b)


def test_short_or_corrupt_output_raises_on_close(tmp_path, monkeypatch):
    monkeypatch.setattr(writer_mod, "_open_output", lambda p: DroppingFile(p, 200_000))
    out = tmp_path / "lost.mp4"
    w = VideoWriter(out, (320, 240), time_base=Fraction(1, 25), fps=25)
    for i in range(40):
        w.write(noisy(320, 240, i), i)
    with pytest.raises(VideoWriteError, match="cannot be read back|frames are in the written file|damaged"):
        w.close()
    w.abort()
    assert not out.exists()


def test_short_file_detected_by_frame_count(tmp_path, monkeypatch):
    """The verification compares the frames in the file with the frames written."""
    out = tmp_path / "short.mp4"
    w = VideoWriter(out, (160, 96), time_base=Fraction(1, 25), fps=25)
    for i in range(10):
        w.write(pattern(160, 96, i), i)
    real = writer_mod._read_back
    monkeypatch.setattr(writer_mod, "_read_back", lambda p: (lambda r: (r[0] - 1, *r[1:]))(real(p)))
    with pytest.raises(VideoWriteError, match="only 9 of 10 frames"):
        w.close()


# ---- encoder choice (platform facts injected) ---------------------------------------------------------

def test_macos_prefers_videotoolbox_injected_codec_list():
    enc = encoders.select_encoder("darwin", {"h264_videotoolbox", "libx264", "mpeg4"}, lambda e: True)
    assert enc.codec == "h264_videotoolbox" and enc.hardware and enc.bits_per_pixel
    assert enc.bit_rate((1920, 1080), 30) == pytest.approx(12.4e6, rel=0.01)
    assert enc.options["profile"] == "high"


def test_macos_videotoolbox_not_opening_falls_back_to_x264_injected():
    tried = []

    def opens(e):
        tried.append(e.codec)
        return e.codec != "h264_videotoolbox"
    enc = encoders.select_encoder("darwin", {"h264_videotoolbox", "libx264", "mpeg4"}, opens)
    assert enc.codec == "libx264" and tried == ["h264_videotoolbox", "libx264"]


def test_linux_never_tries_videotoolbox_and_lgpl_build_uses_openh264_injected():
    enc = encoders.select_encoder("linux", {"h264_videotoolbox", "libx264"}, lambda e: True)
    assert enc.codec == "libx264"
    enc = encoders.select_encoder("darwin", {"libopenh264", "mpeg4"}, lambda e: True)   # LGPL-only FFmpeg
    assert enc.codec == "libopenh264"
    with pytest.raises(RuntimeError, match="no usable video encoder"):
        encoders.select_encoder("linux", {"libx264"}, lambda e: False)


def test_mpeg4_fallback_only_without_h264_and_it_really_writes(tmp_path):
    enc = encoders.select_encoder("linux", {"mpeg4"}, encoders.can_open)
    assert enc is encoders.MPEG4_FALLBACK and not enc.h264
    out = tmp_path / "fallback.mp4"
    w = VideoWriter(out, (320, 240), time_base=Fraction(1, 25), fps=25, encoder=enc)
    src = [pattern(320, 240, i) for i in range(10)]
    for i, f in enumerate(src):
        w.write(f, i)
    w.close()
    assert w.info()["encoder"] == "mpeg4" and w.info()["bit_rate"] == int(0.40 * 320 * 240 * 25)
    _, frames = read_all(out)
    assert min(y_psnr(a, b) for (_, a), b in zip(frames, src)) > 35


def test_choose_encoder_here_is_libx264_and_cached():
    encoders.choose_encoder.cache_clear()
    first = encoders.choose_encoder()
    assert encoders.choose_encoder() is first and encoders.choose_encoder.cache_info().hits >= 1
    assert first.codec == "libx264" and first.options["crf"] == str(encoders.X264_CRF)
    assert first.options_for((1280, 720))["preset"] == encoders.X264_PRESET
    assert first.options_for((1920, 1080)) == {**first.options, "preset": encoders.X264_LARGE_PRESET,
                                               "crf": str(encoders.X264_LARGE_CRF)}


# ---- FFmpeg messages -------------------------------------------------------------------------------------

def test_ffmpeg_messages_go_to_logging_not_terminal(tmp_path, capfd, caplog):
    """Damaged H.264 data makes the decoder complain: in Python logging (libav.*), not on stderr."""
    src = encode_video(tmp_path / "ok.mp4", [noisy(160, 96, i) for i in range(30)])
    data = bytearray(src.read_bytes())
    moov = data.find(b"moov") - 4
    start = len(data) // 3
    data[start:moov] = bytes((k * 37) % 251 for k in range(moov - start))   # garbage, index intact
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    capfd.readouterr()
    with caplog.at_level(logging.WARNING, logger="libav"):
        with VideoReader(bad) as r:
            n = sum(1 for _ in r)
    assert 0 < n <= 30
    assert any(rec.name.startswith("libav") for rec in caplog.records)
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


# ---- more inputs -------------------------------------------------------------------------------------

def test_pcm_audio_in_mov_is_reencoded_to_aac_in_sync(tmp_path):
    src = encode_video(tmp_path / "camera.mov", [pattern(128, 96, i) for i in range(25)], audio="pcm_s16le")
    info, _, w = mirror_copy(src, tmp_path / "out.mp4")
    assert info["audio"]["codec"] == "pcm_s16le"
    assert w.info()["audio"] == "re-encoded to AAC (the input's pcm_s16le cannot be copied into MP4)"
    codec, packets = audio_packets(tmp_path / "out.mp4")
    assert codec == "aac"
    assert audio_seconds(tmp_path / "out.mp4") == pytest.approx(audio_seconds(src), abs=0.05)


def test_audio_only_mp4_is_refused_clearly(tmp_path):
    from app.video.reader import VideoOpenError

    p = tmp_path / "dictation.mp4"
    c = av.open(str(p), "w")
    a = c.add_stream("aac", rate=48000)
    a.layout = "mono"
    from tests.av_media import _encode_audio
    _encode_audio(c, a, 0.5)
    c.close()
    with pytest.raises(VideoOpenError, match=r"dictation.mp4: contains audio only \(aac\), no video"):
        VideoReader(p)


@pytest.mark.skipif(not has_encoder("libx265"), reason="no libx265 to make 10-bit HEVC")
def test_hdr_without_conversion_says_so_simulated_build_without_it(tmp_path, monkeypatch):
    """An FFmpeg build whose scale filter cannot convert HDR (simulated): frames still come, and the
    note says colours may look washed out, for the report and the window."""
    from app.video import hdr

    def unavailable(stream):
        raise av.FFmpegError(-22, "simulated: no colour management in this build")
    monkeypatch.setattr(hdr.HdrToSdr, "_build", staticmethod(unavailable))
    src = encode_hdr_hevc(tmp_path / "pq.mp4", [pattern(96, 64, i) for i in range(3)], "pq")
    with VideoReader(src) as r:
        assert r.hdr["converted_to_sdr"] is False and "washed out" in r.hdr["note"]
        assert len([f for f in r]) == 3


def test_reencoded_audio_keeps_its_start_offset(tmp_path):
    """Audio that starts 0.5 s after the video still starts at 0.5 s after re-encoding (sync kept);
    AAC's encoder priming (1024 samples, 21 ms) is the only shift, and MP4 records it."""
    p = tmp_path / "late_audio.mov"
    c = av.open(str(p), "w")
    v = c.add_stream("libx264", rate=25)
    v.width, v.height, v.pix_fmt = 128, 96, "yuv420p"
    a = c.add_stream("pcm_s16le", rate=48000)
    a.layout = "stereo"
    for i in range(50):
        f = av.VideoFrame.from_ndarray(pattern(128, 96, i), format="bgr24")
        f.pts, f.time_base = i, F(1, 25)
        for pk in v.encode(f):
            c.mux(pk)
    for pk in v.encode(None):
        c.mux(pk)
    for k in range(0, 48000 * 3 // 2, 1024):
        af = av.AudioFrame.from_ndarray(np.zeros((1, 2048), np.int16), format="s16", layout="stereo")
        af.sample_rate, af.pts, af.time_base = 48000, 24000 + k, F(1, 48000)
        for pk in a.encode(af):
            c.mux(pk)
    for pk in a.encode(None):
        c.mux(pk)
    c.close()
    mirror_copy(p, tmp_path / "out.mp4")
    with av.open(str(tmp_path / "out.mp4")) as out:
        s = out.streams.audio[0]
        first = next(pk for pk in out.demux(s) if pk.size)
        assert s.codec_context.name == "aac"
        assert float(first.pts * first.time_base) == pytest.approx(0.5 - 1024 / 48000, abs=0.005)


def _oriented_video(path, img, ccw, hflip):
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = img.shape[1], img.shape[0], "yuv420p"
        v.codec_context.options = {"crf": "10"}
        v.set_display_rotation(ccw if ccw <= 180 else ccw - 360, hflip=hflip)
        for i in range(3):
            f = av.VideoFrame.from_ndarray(img, format="bgr24")
            f.pts = i
            for pk in v.encode(f):
                c.mux(pk)
        for pk in v.encode(None):
            c.mux(pk)
    return path


@pytest.mark.parametrize("ccw", [0, 90, 180, 270])
@pytest.mark.parametrize("hflip", [False, True])
def test_all_eight_display_orientations_upright(tmp_path, ccw, hflip):
    """PyAV's set_display_rotation(ccw, hflip): rotate counter-clockwise, then mirror. The reader
    undoes exactly that (as ffmpeg's autorotate does), flips included (mirrored recordings)."""
    img = np.zeros((48, 80, 3), np.uint8)
    img[:8, :24] = 255                               # top-left marker
    img[40:, 70:, 2] = 255                           # bottom-right red marker
    expected = np.rot90(img, k=ccw // 90)
    if hflip:
        expected = np.fliplr(expected)
    with VideoReader(_oriented_video(tmp_path / "o.mp4", img, ccw, hflip)) as r:
        assert r.mirrored is hflip
        if not hflip:
            assert r.rotation_deg == (-ccw) % 360
        got = r.first_frame
    assert got.shape == expected.shape
    assert y_psnr(got, np.ascontiguousarray(expected)) > 30


def test_process_keeps_audio_and_no_audio_drops_it(tmp_path):
    """Through the CLI as a user runs it (the committed face detector, 5-point mode): a face clip
    with an AAC track keeps its audio packets in every output; --no-audio leaves them out."""
    import subprocess
    import sys

    from tests import videos
    from tests.conftest import MEDIA, REPO, _need

    base = videos.portrait_base(_need(MEDIA / "portrait_frontal.jpg"), width=200)
    # 2 frames (0.13 s, 8 AAC packets): nothing to measure, so each run skips the summary's charts and PDF
    _, frames = videos.transformed_frames(base, [(0, 1, 0, 0)] * 2, (base.shape[1] / 2, base.shape[0] / 2))
    clip = encode_video(tmp_path / "talk.mp4", frames, time_base=Fraction(1, 15), audio="aac")
    with av.open(str(clip)) as c:
        packets_in = [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]
    assert len(packets_in) >= 5
    env = {"PATH": "/usr/bin:/bin", "FACEMIRROR_LOG_DIR": str(tmp_path / "log")}
    for flags, out in (([], tmp_path / "with"), (["--no-audio"], tmp_path / "without")):
        proc = subprocess.run([sys.executable, "main.py", "process", str(clip), "--out", str(out), *flags],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        for kind in ("left_mirrored", "right_mirrored", "annotated"):
            with av.open(str(out / f"talk_{kind}.mp4")) as c:
                if flags:
                    assert not c.streams.audio, kind
                else:
                    packets_out = [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]
                    assert packets_out == packets_in, kind
