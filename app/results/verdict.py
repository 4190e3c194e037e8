"""A verdict for every processed video: can a clinician use these outputs?

Qt-free and torch-free. ``assess(report) -> {"level", "reasons", "notes"}`` reads only facts the
pipeline's JSON report already holds (``frames``, ``quality_flags``, ``tracking``, ``models``,
``input``, ``midline_choice_note``), so it can be re-run on any saved report.

Levels
------
``good``                  no reason below applies: the mirrored videos can be read as they are.
``usable with warnings``  at least one warning applies and nothing makes the video unusable; the
                          reasons say which parts to distrust.
``not usable``            at least one "not usable" rule applies.

Rules (percentages are of the processed frames unless said otherwise; thresholds are the
constants below)
------------------------------------------------------------------------------------------------
=====================================  ========================  ===============================
fact                                   usable with warnings      not usable
=====================================  ========================  ===============================
landmark model is an untrained dev     -                         always
model (``models.star.untrained``)
face not found (``no_face``)           > 2 %                     >= 25 %
head turned more than 12 deg (``yaw``) > 10 %                    >= 50 %
head tilted more than 15 deg           > 25 %                    -
(``roll``; the mirror follows a tilt,
so it never makes a video unusable)
face partly outside the frame          > 5 %                     >= 50 %
uncertain face detection (score<0.9)   > 10 %                    -
usable frames (a face, none of the     -                         < 50 %
flags above; the 5-point flag aside)
recording ends early (truncated file)  always                    less than half of it present
another face present (share of the     >= 2 % of detector runs   -
frames the detector checked)
tracking switched to a face away from  any                       -
the last position ("relocked")
midline choice not honoured            always                    -
=====================================  ========================  ===============================

Why these numbers: a few frames without a face (a blink of the detector, a hand passing) do not
change what a clinician sees; a quarter of the recording without a face means the expressions
that matter may be missing. The yaw limit is the quality module's (12 deg: beyond it the near
half of the face looks clearly wider, so the two mirrored halves are not comparable); a turned
head for half of the recording leaves too little to compare. Other faces are counted over the
frames on which the detector ran (every frame in the 5-point mode and while the face is lost,
about every 10th frame while STAR carries the box).

Added rules (most serious first in ``assess``):

* 5-point mode (no STAR): at best "usable with warnings" (coarse midline, no brow/nose measures).
* Landmark model check (``report["model_check"]``, app/engine/model_check.py): STAR's pupils, nose
  tip and mouth corners vs the detector's 5 points; a mismatch is "not usable: the landmark
  model's output does not match the face (damaged or untrained model)", and then NO recording
  rule (head turn, outside the picture, face size) is applied: they would use garbage points.
* Face size (``report["face_size"]["pupil_px_median"]``): warning below 25 px between the
  pupils, "not usable" below 12 px. Measured on the shared portrait downscaled into a 640x480
  frame with pixel noise, 6 placements per size, the detector's 5 points against the full-size
  detection scaled down (mean error in pupil distances): 0.04-0.05 from 25 to 50 px, 0.07-0.08
  at 15-20 px, 0.09 at 12 px, 0.14 at 9 px. Below 25 px the error grows past the detector's
  baseline; at 12 px it is over 4x the measures' smallest noise floor (0.02 of the pupil
  distance), which is where phantom expression segments come from.
* Scene cuts (``report["scene_cuts"]``, the tracker's cut detector; the face is looked for again
  there): a warning with the times on the player's clock (``input.start_time_s`` added).
* Too short / no measures (``report["measures"]["error"]``, or fewer than 2 frames): a warning.

Notes (``notes``) are facts that do not lower the level, e.g. that the recording was not judged
because the landmark model failed its check.
"""
from __future__ import annotations

from app.base.wording import first_few, plural
from app.base import model_files

GOOD = "good"
WARNINGS = "usable with warnings"
NOT_USABLE = "not usable"
LEVELS = (GOOD, WARNINGS, NOT_USABLE)
UNKNOWN = "unknown"   # front ends: a finished file without a verdict (never shown as good); not a level of assess

NO_FACE_WARN = 0.02
NO_FACE_FAIL = 0.25
YAW_WARN = 0.10
YAW_FAIL = 0.50
ROLL_WARN = 0.25
OUTSIDE_WARN = 0.05
OUTSIDE_FAIL = 0.50
LOW_SCORE_WARN = 0.10
USABLE_FAIL = 0.50
OTHER_FACE_WARN = 0.02
EARLY_END_FAIL = 0.50
# The per-frame quality flags counted in the report, most serious first: (flag, warn above this share
# of frames, fail at or above it (None: never), the reason; {share} is the share of frames, {yaw_max}
# and {roll_max} the head angles the flag allows).
_FLAG_RULES = (
    ("no_face", NO_FACE_WARN, NO_FACE_FAIL, "the face was not found in {share} of frames"),
    ("yaw", YAW_WARN, YAW_FAIL, "the head was turned more than {yaw_max:.0f} deg in {share} of frames"),
    ("partly_outside", OUTSIDE_WARN, OUTSIDE_FAIL, "the face was partly outside the picture in {share} of frames"),
    ("roll", ROLL_WARN, None, "the head was tilted more than {roll_max:.0f} deg in {share} of frames"),
    ("low_score", LOW_SCORE_WARN, None, "the face detection was uncertain in {share} of frames"),
)

UNTRAINED_REASON = "untrained landmark model: the landmarks and the midline are meaningless"
COARSE_REASON = ("5-point mode (no STAR landmark model): the midline comes from the face detector's 5 points "
                 "and is coarse, and the symmetry measures leave out the brow and the nose")
MODEL_MISMATCH_REASON = "the landmark model's output does not match the face (damaged or untrained model)"
MODEL_MISMATCH_NOTE = "the recording itself was not judged: its checks would use the landmark model's points"
# face size: the median distance between the pupils over the frames with a face (measured, see above)
PUPIL_PX_WARN = 25
PUPIL_PX_FAIL = 12
MIN_FRAMES = 2


def _pct(part: float, whole: float) -> str:
    """'30 %', or '<1 %' for a small non-zero share."""
    if whole <= 0:
        return "0 %"
    p = 100.0 * part / whole
    return "<1 %" if 0 < p < 1 else f"{p:.0f} %"


def _clock(seconds: float) -> str:
    s = int(round(max(0.0, seconds)))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class _Verdict:
    def __init__(self) -> None:
        self.level = GOOD
        self._fails: list[str] = []
        self._warnings: list[str] = []
        self.notes: list[str] = []

    def warn(self, reason: str) -> None:
        if self.level == GOOD:
            self.level = WARNINGS
        self._warnings.append(reason)

    def fail(self, reason: str) -> None:
        self.level = NOT_USABLE
        self._fails.append(reason)

    def flag(self, share: float, warn_at: float, fail_at: float | None, reason: str) -> None:
        """Warn above `warn_at`; fail at or above `fail_at` (None: never fails)."""
        if fail_at is not None and share >= fail_at:
            self.fail(reason)
        elif share > warn_at:
            self.warn(reason)

    def as_dict(self) -> dict:
        # what makes a video unusable first (a row or tooltip shows the first reasons), each kind in
        # the order of the rules, which is most serious first
        return {"level": self.level, "reasons": self._fails + self._warnings, "notes": list(self.notes)}


def _value(report: dict, section: str, key: str):
    """report[section][key], None when the section or the key is missing (older or partial reports)."""
    return (report.get(section) or {}).get(key)


def _model_facts(report: dict, v: _Verdict) -> None:
    models = report.get("models") or {}
    star = models.get("star") or {}
    if star.get("untrained"):
        v.fail(UNTRAINED_REASON)
    if _value(models, "retinaface", "untrained"):
        v.fail("untrained face detector model: faces and the midline are meaningless")
    if models.get("landmark_model") == model_files.LANDMARKS_5POINT:
        v.warn(COARSE_REASON)
    check = report.get("model_check") or {}
    if check.get("ok") is False:
        v.fail(MODEL_MISMATCH_REASON)
        v.notes.append(MODEL_MISMATCH_NOTE)


def model_mismatch(report: dict) -> bool:
    """The landmark model's points do not match the face: recording rules would blame the recording
    for the model's fault, so they are not applied."""
    return _value(report, "model_check", "ok") is False


def _face_size_facts(report: dict, v: _Verdict) -> None:
    median = _value(report, "face_size", "pupil_px_median")
    if median is None:
        return
    if median < PUPIL_PX_FAIL:
        v.fail(f"the face is too small: {median:.0f} px between the pupils (at least {PUPIL_PX_WARN} px "
               "are needed; move the camera closer or zoom in)")
    elif median < PUPIL_PX_WARN:
        v.warn(f"the face is small: {median:.0f} px between the pupils (at least {PUPIL_PX_WARN} px are "
               "needed for reliable landmarks; small movements may be missed or invented)")


def _cut_facts(report: dict, v: _Verdict) -> None:
    from app.engine.identity import FACE_CHANGE

    listed = _listed_cuts(report)
    start = float(_value(report, "input", "start_time_s") or 0.0)
    scene = [c for c in listed if c.get("kind") != FACE_CHANGE]
    swapped = [c for c in listed if c.get("kind") == FACE_CHANGE]
    other = [c for c in scene if c.get("identity_change")]
    for cuts, words in ((scene, "the picture changes completely (a cut) at {times}: the face was looked for again "
                                "there; make sure the whole video shows the same patient"),
                        (other, "the face's proportions change at the cut at {times}: probably another person from "
                                "there on; check before using the measures"),
                        (swapped, "another face appears in the patient's place at {times} (the picture around it "
                                  "stays the same): probably another person from there on; check before using the "
                                  "measures")):
        if cuts:
            v.warn(words.format(times=_cut_times(start, cuts)))


def _listed_cuts(report: dict) -> list[dict]:
    """The report's cuts; older reports list only their times."""
    cuts = report.get("scene_cuts") or {}
    return cuts.get("cuts") or [{"time_s": t} for t in cuts.get("times_s") or []]


def _cut_times(start: float, cuts: list) -> str:
    """The first five cuts' times on the input's own clock."""
    return first_few([f"{start + c['time_s']:.2f} s" for c in cuts], 5)


def _measures_facts(report: dict, v: _Verdict, frames: int) -> None:
    m = report.get("measures")
    if isinstance(m, dict) and m.get("error"):
        v.warn(f"no symmetry measures: {m['error']}")      # the pipeline's warning, word for word
    elif frames < MIN_FRAMES:
        v.warn(f"too short for symmetry measures: {plural(frames, 'frame')}")


def _quality_facts(report: dict, v: _Verdict, frames: int) -> None:
    from app.engine.quality import ROLL_MAX_DEG, YAW_MAX_DEG

    q = report.get("quality_flags") or {}
    n = max(frames, int(q.get("frames") or 0), 1)
    for flag, warn_at, fail_at, text in _FLAG_RULES:
        count = int(q.get(flag) or 0)
        v.flag(count / n, warn_at, fail_at,
               text.format(share=_pct(count, n), yaw_max=YAW_MAX_DEG, roll_max=ROLL_MAX_DEG))
    usable = q.get("frames_usable")
    if usable is not None and int(usable) / n < USABLE_FAIL:
        v.fail(f"only {_pct(int(usable), n)} of frames are usable (face found, facing the camera, inside the picture)")


def _recording_facts(report: dict, v: _Verdict, frames: int) -> None:
    f = report.get("frames") or {}
    if not f.get("ended_early"):
        return
    fps = float(_value(report, "input", "fps") or 0.0)
    expected = int(f.get("estimated_total") or 0)
    if fps > 0 and expected > 0:
        reason = (f"recording ends early at {_clock(frames / fps)} of {_clock(expected / fps)} "
                  "(the file is probably cut short)")
    else:
        reason = f"recording ends early after {frames} frames (the file is probably cut short)"
    if expected > 0 and frames / expected < EARLY_END_FAIL:
        v.fail(reason)
    else:
        v.warn(reason)


def _tracking_facts(report: dict, v: _Verdict) -> None:
    t = report.get("tracking") or {}
    runs = int(t.get("detector_runs") or 0)
    others = int(t.get("other_face_frames") or 0)
    if runs and others / runs >= OTHER_FACE_WARN:
        v.warn(f"another face was present in {_pct(others, runs)} of the frames checked: make sure the patient "
               "was followed")
    relocked = int(_value(t, "events", "relocked") or 0)
    if relocked:
        times = "once" if relocked == 1 else f"{relocked} times"
        v.warn(f"the face was found again away from where it was lost ({times}): make sure it is the patient")


def assess(report: dict) -> dict:
    """The verdict for one processed video: {"level": one of LEVELS, "reasons": [...], "notes": [...]}.

    Reasons are plain sentences for a clinician, the most serious kinds first."""
    v = _Verdict()
    frames = int(_value(report, "frames", "processed") or 0)
    _model_facts(report, v)
    _recording_facts(report, v, frames)
    if not model_mismatch(report):      # garbage landmarks say nothing about the recording
        _quality_facts(report, v, frames)
        _face_size_facts(report, v)
        _measures_facts(report, v, frames)
    _tracking_facts(report, v)
    _cut_facts(report, v)
    note = report.get("midline_choice_note")
    if note:
        v.warn(note)
    return v.as_dict()


def summary(verdict: dict) -> str:
    """One line: 'not usable: reason; reason' or 'good'."""
    reasons = verdict.get("reasons") or []
    return verdict.get("level", "?") + (": " + "; ".join(reasons) if reasons else "")
