"""A patient's visits in order, and each region's headline symmetry from visit to visit.

Order: by the recording date (report ``input.recorded_at``) when every recording of the patient
has one, else by visit label in natural order (V2 before V10); the result says which.

Per visit and region the point is the visit's usable recording whose headline moved most (a
visit may have one recording per expression). Recordings rated "not usable" are shown, marked,
and never enter the trend or its sentence.

A change is called only when the two visits' 95 % intervals of the symmetry do not overlap (a
conservative rule: two independent estimates whose 95 % intervals do not overlap differ at
roughly p < 0.006). Otherwise: "no change beyond the measurement's uncertainty". A point without
an interval cannot be judged and is said so.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from app.followup.visits import REGIONS, Headline, Recording

ORDER_DATE = "recording date"
ORDER_LABEL = "visit label"
REGION_NOUN = {"mouth": "smile", "brow": "brow raise", "eyes": "eye closure"}


def natural_key(text: str) -> list:
    return [(0, int(t), "") if t.isdigit() else (1, 0, t.casefold()) for t in re.findall(r"\d+|\D+", text)]


@dataclass
class Visit:
    label: str
    recordings: list[Recording]
    date: str | None = None

    @property
    def usable(self) -> bool:
        return any(r.usable for r in self.recordings)


def visit_label(r: Recording) -> str:
    return r.visit or (r.recorded_at[:10] if r.recorded_at else r.file)


def order_visits(recordings: list[Recording]) -> tuple[list[Visit], str, str]:
    """(visits in order, ORDER_DATE or ORDER_LABEL, a sentence saying so)."""
    groups: dict[str, list[Recording]] = {}
    for r in recordings:
        groups.setdefault(visit_label(r), []).append(r)
    visits = [Visit(k, v, min((r.recorded_at for r in v if r.recorded_at), default=None)) for k, v in groups.items()]
    undated = sum(1 for r in recordings if not r.recorded_at)
    if not undated:
        visits.sort(key=lambda v: (v.date or "", natural_key(v.label)))
        sources = {r.recorded_at_source for r in recordings if r.recorded_at_source}
        file_times = any(s and s.startswith("file modification") for s in sources)
        note = ("Visits are in order of recording date (the reports' input.recorded_at"
                + ("; for some recordings that is the file's modification time, which copying can change"
                   if file_times else "") + ").")
        return visits, ORDER_DATE, note
    visits.sort(key=lambda v: natural_key(v.label))
    return visits, ORDER_LABEL, (f"Visits are in order of their labels (natural order: V2 before V10), because "
                                 f"{undated} recording(s) have no recording date.")


@dataclass
class Point:
    visit: str
    file: str | None
    usable: bool
    headline: Headline | None
    note: str = ""

    @property
    def symmetry(self) -> float | None:
        return self.headline.symmetry_pct if self.headline else None

    @property
    def ci(self) -> tuple[float, float] | None:
        return self.headline.symmetry_ci95 if self.headline else None

    def as_dict(self) -> dict:
        h = self.headline
        d: dict = {"visit": self.visit, "file": self.file, "usable": self.usable, "in_trend": self.in_trend,
                   "symmetry_pct": self.symmetry, "symmetry_ci95": list(self.ci) if self.ci else None}
        if h is not None:
            d.update(measure=h.measure, unit=h.unit, weaker=h.weaker,
                     right={"value": h.right.value, "ci95": list(h.right.ci95) if h.right.ci95 else None},
                     left={"value": h.left.value, "ci95": list(h.left.ci95) if h.left.ci95 else None})
        if self.note:
            d["note"] = self.note
        return d

    @property
    def in_trend(self) -> bool:
        return self.usable and self.symmetry is not None


def point_for(visit: Visit, region: str) -> Point:
    usable = [r for r in visit.recordings if r.usable and region in r.headlines]
    if usable:
        best = max(usable, key=lambda r: r.headlines[region].size)
        p = Point(visit.label, best.file, True, best.headlines[region])
        if p.symmetry is None:
            p.note = "no symmetry value (neither side moved beyond its noise)"
        return p
    unusable = [r for r in visit.recordings if not r.usable and region in r.headlines]
    if unusable:
        r = unusable[0]
        return Point(visit.label, r.file, False, r.headlines[region], "recording not usable: left out of the trend")
    if not visit.usable:
        return Point(visit.label, visit.recordings[0].file, False, None, "recording not usable: left out of the trend")
    return Point(visit.label, None, True, None, "not measured (the region did not move in this visit's recordings)")


def overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def _pct(p: Point) -> str:
    s = f"{p.symmetry:.0f} %"
    return s + (f" ({p.ci[0]:.0f}-{p.ci[1]:.0f})" if p.ci else " (no interval)")


def _visit_name(label: str) -> str:
    return label if label.lower().startswith("visit") else f"visit {label}"


def judge(a: Point, b: Point) -> str:
    """"rose", "fell", "no change" or "not judged" (a point without an interval)."""
    assert a.symmetry is not None and b.symmetry is not None
    if a.ci is None or b.ci is None:
        return "not judged"
    if overlap(a.ci, b.ci):
        return "no change"
    return "rose" if b.symmetry > a.symmetry else "fell"


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


def _change(a: Point, b: Point) -> dict:
    direction = judge(a, b)
    return {"from_visit": a.visit, "to_visit": b.visit, "from": {"symmetry_pct": a.symmetry, "ci95": list(a.ci or []) or None},
            "to": {"symmetry_pct": b.symmetry, "ci95": list(b.ci or []) or None}, "direction": direction,
            "meaning": {"rose": "more symmetric", "fell": "less symmetric"}.get(direction)}


def region_trend(visits: list[Visit], region: str) -> RegionTrend:
    points = [point_for(v, region) for v in visits]
    heads = [p.headline for p in points if p.headline is not None]
    noun = REGION_NOUN.get(region, region)
    t = RegionTrend(region, noun, heads[0].measure if heads else None, heads[0].unit if heads else None, points)
    t.excluded = [p.visit for p in points if not p.usable]
    used = [p for p in points if p.in_trend]
    if not heads:
        t.sentence = f"{noun}: not measured at any visit (the region did not move, or could not be measured)."
        return t
    if not used:
        t.sentence = (f"{noun}: no usable visit has a symmetry value"
                      + (" (every visit that measured it is rated not usable)" if t.excluded else "") + "; nothing to compare.")
        return t
    if len(used) == 1:
        t.sentence = (f"{noun} symmetry: only {_visit_name(used[0].visit)} has a usable value ({_pct(used[0])}); "
                      "nothing to compare.")
        return t
    first, last = used[0], used[-1]
    t.change = _change(first, last)
    t.steps = [_change(a, b) for a, b in zip(used, used[1:])]
    d = t.change["direction"]
    between = f"between {_visit_name(first.visit)} and {_visit_name(last.visit)}"
    if d in ("rose", "fell"):
        t.sentence = (f"{noun} symmetry {d} from {_pct(first)} to {_pct(last)} {between} "
                      f"({t.change['meaning']}).")
    elif d == "no change":
        t.sentence = (f"{noun} symmetry: no change beyond the measurement's uncertainty {between} "
                      f"({_pct(first)} and {_pct(last)}).")
    else:
        t.sentence = (f"{noun} symmetry went from {_pct(first)} to {_pct(last)} {between}; without an interval for "
                      "both, no change can be judged.")
    if len(used) > 2:
        moves = [f"{s['direction']} between {_visit_name(s['from_visit'])} and {_visit_name(s['to_visit'])}"
                 for s in t.steps if s["direction"] in ("rose", "fell")]
        t.sentence += (" Visit to visit: " + "; ".join(moves) + "." if moves else
                       " No step from one visit to the next is beyond the uncertainty.")
    return t


def trends(visits: list[Visit]) -> list[RegionTrend]:
    return [region_trend(visits, region) for region in REGIONS]
