"""`benchmark live`: the looped camera clip and the memory-growth figure (checked on constructed
memory samples whose growth is known), and one short end-to-end run that prints its JSON line."""
from __future__ import annotations

import json

import numpy as np

from app.cli import main as cli
from app.live.sources import LoopedSource, SyntheticSource
from bench.live import memory_figures


def _samples(seconds: float, every: float, mb_per_min: float, jump_at: float | None = None, noise_mb: float = 0.0):
    rng = np.random.default_rng(3)
    out = []
    for t in np.arange(0.0, seconds, every):
        mb = 300.0 + mb_per_min * t / 60.0 + rng.normal(0, noise_mb)
        if jump_at is not None and t >= jump_at:
            mb += 150.0                          # start-up allocation (models, encoder buffers)
        out.append((1000.0 + t, int(mb * 1e6)))  # clock seconds, bytes (RssSampler's form)
    return out


def test_flat_memory_reads_as_no_growth_despite_a_start_up_jump_and_noise():
    fig = memory_figures(_samples(600, 5, 0.0, jump_at=10, noise_mb=2.0), warm_up_s=30)
    assert abs(fig["rss_growth_mb_per_min"]) < 0.2
    assert 445 <= fig["rss_mb_after_warm_up"] <= 458


def test_a_leak_reads_as_its_rate():
    fig = memory_figures(_samples(600, 5, 3.0, noise_mb=1.0), warm_up_s=30)
    assert abs(fig["rss_growth_mb_per_min"] - 3.0) < 0.1
    assert fig["rss_mb_end"] > fig["rss_mb_after_warm_up"] + 25


def test_too_short_a_run_gives_no_growth_figure():
    assert memory_figures(_samples(20, 5, 50.0), warm_up_s=30)["rss_growth_mb_per_min"] is None
    assert memory_figures([])["rss_growth_mb_per_min"] is None
    # a few samples just after the warm-up: a steep but meaningless slope is not given
    assert memory_figures(_samples(70, 5, 500.0), warm_up_s=60)["rss_growth_mb_per_min"] is None


def test_looped_source_runs_on_with_increasing_times_until_its_length():
    src = SyntheticSource(size=(64, 48), fps=10.0, seconds=1.0)
    times = [t for _, t in LoopedSource(src, 2.5).frames()]
    assert len(times) == 26                          # 0.0 .. 2.5 s at 10 fps: three passes of a 1 s clip
    assert np.all(np.diff(times) > 0)
    assert np.allclose(np.diff(times), 0.1)          # no gap or repeat where a pass starts again
    assert times[-1] <= 2.5


def test_benchmark_live_prints_one_json_line_with_its_figures(tmp_path, capsys):
    from bench.media import make_video

    clip = make_video(tmp_path / "cam.mp4", (320, 240), 1.0, 15.0, out=open("/dev/null", "w"))
    assert cli.main(["benchmark", "live", "--source", str(clip), "--seconds", "2", "--json"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    fig = json.loads(line)
    for key in ("display_fps", "latency_p95_ms", "landmark_fps", "recorded_frames_dropped", "other_load"):
        assert key in fig
    assert fig["recorded_frames_dropped"] == 0
    assert fig["frames"] >= 28                       # two passes of the 15-frame clip (the last frame may end it)


def test_a_looped_source_without_an_end_runs_on_like_a_camera():
    import itertools

    src = SyntheticSource(size=(64, 48), fps=10.0, seconds=1.0)      # 10 frames a pass
    times = [t for _, t in itertools.islice(LoopedSource(src).frames(), 35)]
    assert len(times) == 35 and np.allclose(np.diff(times), 0.1)
