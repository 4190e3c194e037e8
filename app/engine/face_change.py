"""Did the face on this frame become another person's? (A hard cut between two recordings.)

The frame-level scene-cut test (tracking.SceneCutDetector) misses a cut from one person to
another standing in the same place before the same background: most of the picture does not
change. This test looks only inside the patient's box and compares it with the same box on the
previous frame. A face changes little from one frame to the next (30 fps: a smile or a blink
takes several frames, head motion moves the box a few pixels), while another person changes skin
tone, hair and the layout of the features at once. A change needs both: the hue/saturation
histograms of the box differ (Bhattacharyya distance above `hist_distance`) and its structure
differs (correlation of 24x24 grey thumbnails below `correlation`).

Thresholds measured here: over the press-room clip's 254 consecutive frame pairs of one talking,
turning person, the histogram distance had a median of 0.06, a 99th percentile of 0.18 and a
maximum of 0.28; the two shared portraits swapped at the same place gave 0.46-0.49 with a thumbnail
correlation of 0.26-0.28. A change needs a distance above 0.35 and a correlation below 0.5; the
pipeline then confirms that a face is there (the patient leaving the box is not a change).
"""
from __future__ import annotations

import math

import cv2
import numpy as np

Signature = tuple[np.ndarray, np.ndarray]


def box_signature(frame_bgr: np.ndarray, box) -> Signature | None:
    """Grey thumbnail and hue/saturation histogram of the box's inner part (None: box off the frame)."""
    h, w = frame_bgr.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    # the inner 70 %: the face itself, not the background at the box's corners
    mx, my = 0.15 * (x2 - x1), 0.15 * (y2 - y1)
    xa, ya = max(0, int(x1 + mx)), max(0, int(y1 + my))
    xb, yb = min(w, int(math.ceil(x2 - mx))), min(h, int(math.ceil(y2 - my)))
    if xb - xa < 4 or yb - ya < 4:
        return None
    crop = frame_bgr[ya:yb, xa:xb]
    small = cv2.resize(crop, (48, 48), interpolation=cv2.INTER_AREA)
    grey = cv2.resize(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (24, 24),
                      interpolation=cv2.INTER_AREA).astype(np.float32)
    hist = cv2.calcHist([cv2.cvtColor(small, cv2.COLOR_BGR2HSV)], [0, 1], None, [16, 8], [0, 180, 0, 256])
    cv2.normalize(hist, hist, 1.0, 0.0, cv2.NORM_L1)
    return grey, hist


def compare(a: Signature, b: Signature) -> tuple[float, float]:
    """(histogram distance, thumbnail correlation) between two signatures."""
    dist = float(cv2.compareHist(a[1], b[1], cv2.HISTCMP_BHATTACHARYYA))
    ga, gb = a[0] - a[0].mean(), b[0] - b[0].mean()
    denom = math.sqrt(float((ga * ga).sum()) * float((gb * gb).sum()))
    corr = float((ga * gb).sum()) / denom if denom > 1e-6 else 1.0
    return dist, corr


class FaceChangeDetector:
    """Flags a frame on which the face inside the patient's box is no longer the previous frame's."""

    def __init__(self, hist_distance: float = 0.35, correlation: float = 0.5):
        self.hist_distance = hist_distance
        self.correlation = correlation
        self._prev: Signature | None = None

    def reset(self) -> None:
        self._prev = None

    def __call__(self, frame_bgr: np.ndarray, box) -> bool:
        sig = None if box is None else box_signature(frame_bgr, box)
        prev, self._prev = self._prev, sig
        if prev is None or sig is None:
            return False
        dist, corr = compare(sig, prev)
        return dist > self.hist_distance and corr < self.correlation
