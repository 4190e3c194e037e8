"""The peak of an expression as a robust plateau estimate, with bootstrap intervals (numpy only).

A held expression is a plateau, not a maximum: the largest value (or a high percentile) of a
noisy measure grows with the noise, which pulls a weak side towards the strong one and every
symmetry towards 100 %. So the peak change from rest is

    centre of the plateau frames - centre of the rest frames,

where the plateau frames are the segment's frames whose activity is at least
:data:`PLATEAU_FRACTION` of its largest activity, and the centre is the mean of the values within
2.5 robust SD of their median. Both are unbiased under symmetric noise; that clipped mean is nearly
as steady as the mean under Gaussian noise (the median's spread is 1.25 x larger: at 1 mm of
landmark noise the smile's symmetry varied by 3.8 points over 20 seeds with the median, 2.8 with a
trimmed mean) and, like the median, ignores wild frames and another movement spilling into part
of the plateau.

Intervals: a circular block bootstrap (blocks of :data:`BLOCK_S`: the face frame's maps are
averaged over +-0.1 s, so each frame's error is shared with its neighbours up to 0.2 s away; a
block 2.5 x that long keeps most of that correlation, where 0.3 s blocks lost part of it)
resamples the plateau frames and the rest frames; the SAME resampled frames are used for the right
and the left side, so the symmetry ratio's interval keeps what the sides share. The resampled
centres of the plateau and of the rest are each spread by sqrt(k / (k - 1)) for the k blocks they
hold (:func:`few_blocks_factor`: a 1.5 s plateau is only 3 blocks, and the spread of 3 block means
taken with divisor 3 is a third short); the resamples are then centred on the estimate and their
spread widened by :data:`WIDEN`; 95 % percentile intervals from :data:`RESAMPLES` resamples with a
fixed seed (the same input always gives the same numbers).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

PLATEAU_FRACTION = 0.75
RESAMPLES = 400
BLOCK_S = 0.5
SEED = 20261203
# The bootstrap spread is widened by this factor before the percentiles are taken: over 20 seeds
# per condition of the known-truth sweep (bench.measures_truth) the real spread of the estimates
# was up to 1.45 x the plain bootstrap's (brow, 1 mm of noise), which resamples frames chosen from
# the same noisy recording (the plateau, picked on the activity, and the rest) and so cannot see
# the noise of that choice; a 95 % interval must hold the truth 95 % of the time. Set on seeds 0-19
# before the few-blocks factor (few_blocks_factor) was added; with both, the intervals held the
# truth in 90-100 % of fresh seeds 1000-1029 (bench.measures_truth --first-seed, docs/MEASURES.md).
WIDEN = 1.3
MIN_FRAMES = 3


@dataclass
class PeakEstimate:
    value: float                  # the peak change from rest
    ci95: tuple[float, float]     # 2.5th and 97.5th percentile of the bootstrap
    samples: np.ndarray           # (RESAMPLES,) bootstrap values (for ratios of two sides)
    near_value: float | None = None   # the value seen from the nearest camera allowed (app.measures.perspective)

    @classmethod
    def missing(cls) -> "PeakEstimate":
        return cls(math.nan, (math.nan, math.nan), np.full(RESAMPLES, np.nan))


CLIP_SD = 2.5


def centre(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """The mean of the values within :data:`CLIP_SD` robust SD (1.4826 x MAD) of their median.

    Under Gaussian noise it keeps ~99 % of the frames and is nearly as steady as the mean (a
    median's spread is 1.25 x larger); another movement spilling into part of a plateau (a
    cluster of frames far from the rest) is left out as the median would leave it out, which a
    plain trimmed mean does not once it covers more than its trimmed fraction."""
    a = np.asarray(x, np.float64)
    med = np.median(a, axis=axis, keepdims=True)
    dev = np.abs(a - med)
    keep = dev <= CLIP_SD * 1.4826 * np.median(dev, axis=axis, keepdims=True) + 1e-12
    return np.sum(np.where(keep, a, 0.0), axis=axis) / np.sum(keep, axis=axis)


def plateau_frames(activity: np.ndarray) -> np.ndarray:
    """Indices (into ``activity``, one segment's frames) of its plateau."""
    a = np.nan_to_num(np.asarray(activity, np.float64), nan=0.0)
    if not len(a):
        return np.zeros(0, int)
    return np.flatnonzero(a >= PLATEAU_FRACTION * float(np.max(a)))


def _block_resamples(m: int, block: int, rng: np.random.Generator) -> np.ndarray:
    """(RESAMPLES, m) indices into 0..m-1, made of consecutive blocks that wrap around the end
    (circular: every frame is drawn equally often; plain moving blocks under-draw the first and
    last frames, which on a plateau are its lower edges, and so shift the whole bootstrap)."""
    # At least 3 blocks: a series no longer than one block comes back from a circular draw as a
    # rotation of itself, every resample has the same mean and the interval has zero width (a short
    # plateau on a real recording read as certain, with a weaker side named).
    block = max(1, min(block, m // 3))
    n_blocks = math.ceil(m / block)
    starts = rng.integers(0, m, size=(RESAMPLES, n_blocks))
    idx = (starts[:, :, None] + np.arange(block)).reshape(RESAMPLES, -1) % m
    return idx[:, :m]


def few_blocks_factor(m: int, block: int) -> float:
    """sqrt(k / (k - 1)) for a series of ``m`` frames holding k = m / ``block`` blocks: a block
    bootstrap's variance of a mean is the spread of k block means with divisor k, not k - 1, so it
    is short by (k - 1) / k, which for a 1.5 s plateau of 0.5 s blocks (k = 3) is a third of the
    variance (the n - 1 of a sample variance, counted in blocks)."""
    k = m / max(1, min(block, m // 3))
    return math.sqrt(k / (k - 1.0))


def _inflate(boot: np.ndarray, factor: float) -> np.ndarray:
    """Resampled centres (RESAMPLES, ...) moved away from their median by ``factor``."""
    mid = np.median(boot, axis=0)
    return mid + factor * (boot - mid)


def _spread_about(value: float, boot: np.ndarray) -> np.ndarray:
    """The bootstrap values moved to centre on the estimate and their spread widened by
    :data:`WIDEN`: the bootstrap gives the spread, the estimate the place."""
    return value + WIDEN * (boot - np.median(boot, axis=0))


def ci95(samples: np.ndarray) -> tuple[float, float]:
    s = samples[np.isfinite(samples)]
    if len(s) < RESAMPLES // 2:
        return math.nan, math.nan
    lo, hi = np.percentile(s, [2.5, 97.5])
    return float(lo), float(hi)


Combine = Callable[[np.ndarray], np.ndarray]


def first_component(diff: np.ndarray) -> np.ndarray:
    return diff[..., 0]


def paired_peaks(plateau: dict[str, np.ndarray], rest: dict[str, np.ndarray], fps: float,
                 combine: Combine = first_component) -> dict[str, PeakEstimate]:
    """Peak change from rest of each side, with bootstrap intervals.

    ``plateau[side]`` is (P, C) and ``rest[side]`` (R, C): the plateau and rest frames' values of a
    measure's C components (one for most measures; two for a displacement); rows with a missing
    value on either side are dropped. ``combine`` maps the (..., C) differences of the centres to the
    peak value (e.g. a signed vector length).
    """
    sides = list(plateau)
    p_ok = np.all([np.all(np.isfinite(plateau[s]), axis=1) for s in sides], axis=0)
    r_ok = np.all([np.all(np.isfinite(rest[s]), axis=1) for s in sides], axis=0)
    if p_ok.sum() < MIN_FRAMES or r_ok.sum() < MIN_FRAMES:
        return {s: PeakEstimate.missing() for s in sides}
    rng = np.random.default_rng(SEED)
    block = max(1, round(BLOCK_S * fps))
    pi = _block_resamples(int(p_ok.sum()), block, rng)
    ri = _block_resamples(int(r_ok.sum()), block, rng)
    out = {}
    for s in sides:
        p, r = plateau[s][p_ok], rest[s][r_ok]
        value = float(combine(centre(p, axis=0) - centre(r, axis=0)))
        boot_p = _inflate(centre(p[pi], axis=1), few_blocks_factor(len(p), block))
        boot_r = _inflate(centre(r[ri], axis=1), few_blocks_factor(len(r), block))
        boot = _spread_about(value, combine(boot_p - boot_r))
        out[s] = PeakEstimate(value, ci95(boot), boot)
    return out


def paired_values(plateau: dict[str, np.ndarray], rest: dict[str, np.ndarray],
                  combine: Combine = first_component) -> dict[str, float]:
    """The estimates of :func:`paired_peaks` alone (no interval), from the same frames."""
    sides = list(plateau)
    p_ok = np.all([np.all(np.isfinite(plateau[s]), axis=1) for s in sides], axis=0)
    r_ok = np.all([np.all(np.isfinite(rest[s]), axis=1) for s in sides], axis=0)
    if p_ok.sum() < MIN_FRAMES or r_ok.sum() < MIN_FRAMES:
        return {s: math.nan for s in sides}
    return {s: float(combine(centre(plateau[s][p_ok], axis=0) - centre(rest[s][r_ok], axis=0))) for s in sides}


def median_with_ci(values: np.ndarray, fps: float, block_s: float = BLOCK_S) -> tuple[float, tuple[float, float]]:
    """One series (e.g. the lid gap on a plateau): its clipped mean (centre) with the same widened block-bootstrap interval."""
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    if len(v) < MIN_FRAMES:
        return math.nan, (math.nan, math.nan)
    block = max(1, round(block_s * fps))
    idx = _block_resamples(len(v), block, np.random.default_rng(SEED))
    value = float(centre(v))
    return value, ci95(_spread_about(value, _inflate(centre(v[idx], axis=1), few_blocks_factor(len(v), block))))


def median_difference_ci(a: np.ndarray, b: np.ndarray, fps: float, block_s: float) -> tuple[float, float]:
    """95 % interval of median(a) - median(b) over the same frames (a resting right - left, whose
    values are the rest medians): the same widened block bootstrap, of that estimator itself. (The
    interval of the per-frame difference's clipped mean, placed around the medians' difference,
    was a median's 1.25 x spread short: it held a drooping lid's MRD1 difference in 35 of 40
    noisy exams.)"""
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < MIN_FRAMES:
        return math.nan, math.nan
    a, b = np.asarray(a, np.float64)[ok], np.asarray(b, np.float64)[ok]
    block = max(1, round(block_s * fps))
    idx = _block_resamples(len(a), block, np.random.default_rng(SEED))
    boot = _inflate(np.median(a[idx], axis=1) - np.median(b[idx], axis=1), few_blocks_factor(len(a), block))
    return ci95(_spread_about(float(np.median(a) - np.median(b)), boot))
