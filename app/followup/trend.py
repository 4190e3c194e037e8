"""Each region's headline symmetry from visit to visit, and what changed between visits.

Visits and their order: app/followup/visit_order.py. Per visit and region the point is the
visit's usable recording whose headline moved most (a visit may have one recording per
expression). Recordings rated "not usable" are shown, marked, and never enter the trend or its
sentence.

A change of the symmetry is called real only beyond the measurement's own error: the minimal
detectable change at 95 % of the difference of two independent estimates,
MDC95 = 1.96 x sqrt(SE1^2 + SE2^2), each SE taken from its 95 % bootstrap interval as
(high - low) / (2 x 1.96). Otherwise: "no change beyond the measurement's error". A point without
an interval cannot be judged and is said so. The weaker side changing from one side to the other
(both named by the measures, which name one only when the sides differ beyond their interval) is
a change whatever the symmetry does. Every change says what else changed between the two
recordings that could explain it (mode, models, resolution, frame rate, face size, verdict).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from app.followup.visit_order import Visit, natural_key, visit_name
from app.followup.visits import CONDITIONS, REGIONS, Headline, Recording
from app.measures.definitions import headline_measure

__all__ = ["REST_NOT_JUDGED", "Point", "RegionTrend", "Visit", "mdc95", "natural_key", "region_trend", "trends"]

REGION_NOUN = {"mouth": "smile", "brow": "brow raise", "eyes": "eye closure"}
Z95 = 1.959964
FACE_SIZE_CHANGE = 0.2     # pupil distance in pixels differing by more than 20 % between recordings
FPS_CHANGE = 0.02
RELATIVE_CHANGE = {"face_px": FACE_SIZE_CHANGE, "fps": FPS_CHANGE}   # conditions compared as numbers
NOT_MEASURABLE_5POINT = "not measurable in 5-point mode"
REST_NOT_JUDGED = ("the measures give resting values without an interval, so a difference at rest cannot be told "
                   "from noise")


def _listed(pair: tuple | None) -> list | None:
    """An interval as JSON writes it: a list, or None when there is none."""
    return list(pair) if pair else None


def mdc95(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Minimal detectable change (95 %) between two estimates given their 95 % intervals."""
    se_a, se_b = (a[1] - a[0]) / (2 * Z95), (b[1] - b[0]) / (2 * Z95)
    return Z95 * math.hypot(se_a, se_b)


@dataclass
class Point:
    visit: str
    file: str | None
    usable: bool
    headline: Headline | None
    note: str = ""
    recording: Recording | None = None

    @property
    def symmetry(self) -> float | None:
        return self.headline.symmetry_pct if self.headline else None

    @property
    def ci(self) -> tuple[float, float] | None:
        return self.headline.symmetry_ci95 if self.headline else None

    @property
    def weaker(self) -> str | None:
        return self.headline.weaker if self.headline else None

    def as_dict(self) -> dict:
        h = self.headline
        d: dict = {"visit": self.visit, "file": self.file, "usable": self.usable, "in_trend": self.in_trend,
                   "symmetry_pct": self.symmetry, "symmetry_ci95": _listed(self.ci)}
        if h is not None:
            d.update(measure=h.measure, unit=h.unit, weaker=h.weaker,
                     right={"value": h.right.value, "ci95": _listed(h.right.ci95)},
                     left={"value": h.left.value, "ci95": _listed(h.left.ci95)})
        if self.note:
            d["note"] = self.note
        return d

    @property
    def in_trend(self) -> bool:
        return self.usable and self.symmetry is not None


def _absent(visit: Visit, region: str) -> str:
    """Why a usable visit has no headline for ``region``: its mode cannot measure it, or it did not move."""
    modes = {r.coarse for r in visit.recordings if r.usable}     # True: 5-point, False: 98-point, None: unknown
    measuring_modes = {False, True} if headline_measure(region, 5) else {False}
    if modes and modes <= measuring_modes:
        return "not measured (the region did not move in this visit's recordings)"
    if modes == {True}:     # every recording 5-point, and 5 points do not measure the region
        return NOT_MEASURABLE_5POINT
    return "not measured (no value for this region in this visit's measures)"


def _heads(r: Recording, guided: bool) -> dict[str, Headline]:
    return r.task_headlines if guided else r.headlines


def guided_visits(visits: list[Visit]) -> bool:
    """Every usable visit followed a guided protocol: compare the task headlines (like with like)."""
    usable = [v for v in visits if v.usable]
    return bool(usable) and all(any(r.task_headlines for r in v.recordings if r.usable) for v in usable)


def point_for(visit: Visit, region: str, guided: bool = False) -> Point:
    measured = [r for r in visit.recordings if region in _heads(r, guided)]
    usable = [r for r in measured if r.usable]
    if usable:
        best = max(usable, key=lambda r: _heads(r, guided)[region].size)
        p = Point(visit.label, best.file, True, _heads(best, guided)[region], recording=best)
        if p.symmetry is None:
            p.note = "no symmetry value (neither side moved beyond its noise)"
        return p
    if measured:    # by unusable recordings only
        r = measured[0]
        return Point(visit.label, r.file, False, _heads(r, guided)[region], "recording not usable: left out of the trend",
                     recording=r)
    if not visit.usable:
        return Point(visit.label, visit.recordings[0].file, False, None, "recording not usable: left out of the trend")
    return Point(visit.label, None, True, None, _absent(visit, region))


def _pct(p: Point) -> str:
    s = f"{p.symmetry:.0f} %"
    return s + (f" ({p.ci[0]:.0f}-{p.ci[1]:.0f})" if p.ci else " (no interval)")


def _with_side(p: Point) -> str:
    return _pct(p) + (f", {p.weaker} weaker" if p.weaker else "")


def _fmt(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def changed_conditions(a: Recording | None, b: Recording | None) -> list[dict]:
    """What differs between the two recordings' conditions: [{what, name, from, to}] (known on both sides)."""
    if a is None or b is None:
        return []
    out = []
    for key, name in CONDITIONS.items():
        x, y = a.conditions.get(key), b.conditions.get(key)
        if x is None or y is None:
            continue
        tolerance = RELATIVE_CHANGE.get(key)    # numbers within it are the same; words compare as words
        differs = str(x).lower() != str(y).lower() if tolerance is None else abs(x - y) > tolerance * max(x, y)
        if differs:
            shown = (str(x)[:12], str(y)[:12]) if key.endswith("_model") else (_fmt(x), _fmt(y))
            out.append({"what": key, "name": name, "from": shown[0], "to": shown[1]})
    return out


def conditions_text(changes: list[dict]) -> str:
    return "; ".join(f"{c['name']} {c['from']} -> {c['to']}" for c in changes)


def _change(a: Point, b: Point) -> dict:
    """The change from point a to point b: symmetry difference against its MDC95, the weaker side, conditions."""
    assert a.symmetry is not None and b.symmetry is not None
    diff = b.symmetry - a.symmetry
    mdc = mdc95(a.ci, b.ci) if a.ci and b.ci else None
    if mdc is None:
        direction = "not judged"
    elif abs(diff) > mdc:
        direction = "rose" if diff > 0 else "fell"
    else:
        direction = "no change"
    beyond = direction in ("rose", "fell")
    # weaker_side() names "right", "left" or None
    flip = {"from": a.weaker, "to": b.weaker} if a.weaker != b.weaker and None not in (a.weaker, b.weaker) else None

    def end(p: Point) -> dict:
        h = p.headline
        assert h is not None
        return {"symmetry_pct": p.symmetry, "ci95": _listed(p.ci), "weaker": h.weaker,
                "right": h.right.value, "left": h.left.value}

    return {"from_visit": a.visit, "to_visit": b.visit, "from": end(a), "to": end(b),
            "difference_pct": round(diff, 3), "mdc95_pct": round(mdc, 3) if mdc is not None else None,
            "beyond_error": beyond, "direction": direction,
            "meaning": {"rose": "more symmetric", "fell": "less symmetric"}.get(direction),
            "weaker_side_changed": flip, "real": beyond or flip is not None,
            "conditions_changed": changed_conditions(a.recording, b.recording)}


def _sides_text(c: dict, unit: str) -> str:
    f, t = c["from"], c["to"]
    parts = [f"{side} {f[side]:.1f} -> {t[side]:.1f} {unit}".rstrip() for side in ("right", "left")
             if f[side] is not None and t[side] is not None]
    return "; ".join(parts)


def change_sentence(noun: str, unit: str, c: dict, first: Point, last: Point) -> str:
    between = f"between {visit_name(c['from_visit'])} and {visit_name(c['to_visit'])}"
    d = c["direction"]
    if d in ("rose", "fell"):
        s = (f"{noun} symmetry {d} from {_pct(first)} to {_pct(last)} {between} ({c['meaning']}; the change of "
             f"{abs(c['difference_pct']):.0f} points is beyond the measurement's error of {c['mdc95_pct']:.0f}).")
    elif d == "no change":
        s = (f"{noun} symmetry: no change beyond the measurement's error {between} ({_pct(first)} and {_pct(last)}; "
             f"a change would need more than {c['mdc95_pct']:.0f} points).")
    else:
        s = (f"{noun} symmetry went from {_pct(first)} to {_pct(last)} {between}; without an interval for both, "
             "no change can be judged.")
    if c["weaker_side_changed"]:
        flip = c["weaker_side_changed"]
        s += (f" The weaker side changed from the {flip['from']} to the {flip['to']} ({_sides_text(c, unit)}): "
              "a change, whatever the symmetry says.")
    if c["conditions_changed"]:
        s += (" Also changed between these recordings, which could explain part of the difference: "
              + conditions_text(c["conditions_changed"]) + ".")
    return s


@dataclass
class RegionTrend:
    region: str
    noun: str
    measure: str | None
    unit: str | None
    points: list[Point]
    change: dict | None = None
    steps: list[dict] = field(default_factory=list)
    sentence: str = ""
    excluded: list[str] = field(default_factory=list)     # visits left out because not usable

    def as_dict(self) -> dict:
        return {"region": self.region, "name": self.noun, "measure": self.measure, "unit": self.unit,
                "points": [p.as_dict() for p in self.points], "change": self.change, "steps": self.steps,
                "sentence": self.sentence, "left_out_not_usable": self.excluded}


def region_trend(visits: list[Visit], region: str, guided: bool = False) -> RegionTrend:
    """``guided``: every visit followed a protocol, so each point is the task's headline (a brow raise
    asked for, not the largest brow movement found)."""
    points = [point_for(v, region, guided) for v in visits]
    t, measured = _trend_of(region, points, guided)
    noun = t.noun
    used = [p for p in points if p.in_trend]
    nothing = _nothing_to_compare(noun, points, used, measured, bool(t.excluded))
    if nothing is not None:
        t.sentence = nothing
        return t
    first, last = used[0], used[-1]
    t.change = _change(first, last)
    t.steps = [_change(a, b) for a, b in zip(used, used[1:])]
    t.sentence = change_sentence(noun, t.unit or "", t.change, first, last)
    if len(used) > 2:
        t.sentence += _steps_sentence(t.steps)
    t.sentence += _without_sentence(points)
    return t


def _trend_of(region: str, points: list, guided: bool) -> tuple[RegionTrend, bool]:
    """The region's trend before its change is known, and whether any visit measured it."""
    heads = [p.headline for p in points if p.headline is not None]
    noun = REGION_NOUN.get(region, region) + (" (guided task)" if guided else "")
    measure, unit = (heads[0].measure, heads[0].unit) if heads else (None, None)
    t = RegionTrend(region, noun, measure, unit, points)
    t.excluded = [p.visit for p in points if not p.usable]
    return t, bool(heads)


def _without_sentence(points: list) -> str:
    without = [f"{visit_name(p.visit)} ({p.note})" for p in points if p.usable and not p.in_trend and p.note]
    return " Without a value: " + "; ".join(without) + "." if without else ""


def _nothing_to_compare(noun: str, points: list, used: list, measured: bool, excluded: bool) -> str | None:
    """The region's sentence when fewer than two visits have a usable value; None otherwise."""
    if not measured:
        if points and all(p.note == NOT_MEASURABLE_5POINT for p in points if p.usable):
            return f"{noun}: {NOT_MEASURABLE_5POINT} (every usable visit was measured in 5-point mode)."
        return f"{noun}: not measured at any visit (the region did not move, or could not be measured)."
    if not used:
        return (f"{noun}: no usable visit has a symmetry value"
                + (" (every visit that measured it is rated not usable)" if excluded else "") + "; nothing to compare.")
    if len(used) == 1:
        return (f"{noun} symmetry: only {visit_name(used[0].visit)} has a usable value ({_with_side(used[0])}); "
                "nothing to compare.")
    return None


def _steps_sentence(steps: list[dict]) -> str:
    """Visit to visit, for three visits or more: which steps rose, fell or changed the weaker side."""
    moves = []
    for s in steps:
        step = f"between {visit_name(s['from_visit'])} and {visit_name(s['to_visit'])}"
        if s["direction"] in ("rose", "fell"):
            moves.append(f"{s['direction']} {step}")
        if s["weaker_side_changed"]:
            moves.append(f"the weaker side changed {step}")
    return (" Visit to visit: " + "; ".join(moves) + "." if moves else
            " No step from one visit to the next is beyond the measurement's error.")


def trends(visits: list[Visit]) -> list[RegionTrend]:
    guided = guided_visits(visits)
    return [region_trend(visits, region, guided) for region in REGIONS]
