"""A patient's recordings grouped into visits, and the visits put in order by one stated rule.

The rule (docs/FOLLOWUP.md, "Order of visits"), first that applies:

1. every visit has a trusted date (the recording's own date from its container, or a date the
   user gave with ``--visit-date``): date order. Labels that say an order (V1 < V2) and disagree
   are a warning on the page; an ``--order`` that disagrees is refused.
2. ``--order V1,V2,V3`` given by the user: that order (it must name every visit; trusted dates
   that disagree are refused).
3. labels that say an order, all of one kind: numbered with one prefix (V1 < V2 < V10, "visit 3",
   T0 < T1), times after surgery ("preop" / "baseline" < "6 weeks" < "3 months" < "1 year"), or
   dates (2026-03-15). Trusted dates that disagree are refused (give --order).
4. file modification times, the last resort (a copy sets them in any order), said on the page.
Otherwise the order cannot be told and the command is refused with one sentence.

Visits are grouped by label; recordings with one label whose trusted dates are more than a day
apart are separate visits ("V1 (2026-01-10)", "V1 (2026-06-20)") with a warning, never merged.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from app.followup.visits import DATE_CONTAINER, DATE_FILE, DATE_GIVEN, Recording

ORDER_DATE = "recording date"
ORDER_GIVEN = "order given with --order"
ORDER_LABEL = "visit labels"
ORDER_FILE_TIME = "file modification time (last resort)"
RULE = ("Visit order: the recordings' own dates (from the video file's container, or given with --visit-date) "
        "when every visit has one; else the order given with --order; else labels that say an order "
        "(V1 < V2 < V10; preop < 6 weeks < 3 months < 1 year; dates); file modification times only as a last "
        "resort, and never against the labels.")
SAME_VISIT = dt.timedelta(days=1)       # recordings of one label further apart than this are two visits
TRUSTED = (DATE_CONTAINER, DATE_GIVEN)


class OrderError(ValueError):
    """The visits' order cannot be told or is contradicted; the message is one sentence."""


@dataclass
class Visit:
    label: str                             # as shown ("V1", or "V1 (2026-01-10)" for a reused label)
    recordings: list[Recording]
    date: str | None = None                # the date the order uses, ISO
    date_source: str | None = None         # DATE_CONTAINER, DATE_GIVEN or DATE_FILE
    base: str = ""                         # the label as given
    notes: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return any(r.usable for r in self.recordings)

    @property
    def trusted(self) -> bool:
        return self.date_source in TRUSTED

    def as_dict(self) -> dict:
        return {"visit": self.label, "label": self.base, "date": self.date, "date_source": self.date_source,
                "usable": self.usable}


def when(text: str) -> dt.datetime | None:
    """An ISO date or date-time as an aware datetime (no zone: UTC), None when it is not one."""
    try:
        stamp = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.timezone.utc)


def day(text: str | None) -> str:
    return (text or "")[:10]


def natural_key(text: str) -> list:
    return [(0, int(t), "") if t.isdigit() else (1, 0, t.casefold()) for t in re.findall(r"\d+|\D+", text)]


# ---- labels that say an order -------------------------------------------------------------------

# Labels that are a word, by their letters: days after surgery (before it: -1)
_WORD_DAYS = {**dict.fromkeys(("preop", "preoperative", "pre", "baseline", "beforesurgery", "presurgery", "prior"),
                              -1.0),
              "postop": 0.0, "postoperative": 0.0}
_UNIT_DAYS = {"d": 1.0, "day": 1.0, "days": 1.0, "w": 7.0, "wk": 7.0, "wks": 7.0, "week": 7.0, "weeks": 7.0,
              "m": 30.44, "mo": 30.44, "mos": 30.44, "month": 30.44, "months": 30.44,
              "y": 365.25, "yr": 365.25, "yrs": 365.25, "year": 365.25, "years": 365.25}
_DURATION = re.compile(r"^(?:(?:post-?op|fu|follow-?up)\s*[:\-]?\s*)?\+?(\d+(?:[.,]\d+)?)\s*([a-z]+)"
                       r"(?:\s*(?:post-?op(?:erative)?|postoperative|after surgery|post|later|fu))?$")
_NUMBERED = re.compile(r"^([a-z][a-z .#_-]*?)?[\s#_-]*(\d+)$")


def _duration_days(label: str) -> float | None:
    t = label.strip().casefold()
    word = _WORD_DAYS.get(re.sub(r"[^a-z]", "", t))
    if word is not None:
        return word
    m = _DURATION.match(t)
    if m and m.group(2) in _UNIT_DAYS:
        return float(m.group(1).replace(",", ".")) * _UNIT_DAYS[m.group(2)]
    return None


def _numbered(label: str) -> tuple[str, int] | None:
    m = _NUMBERED.match(label.strip().casefold())
    return (re.sub(r"[^a-z]", "", m.group(1) or ""), int(m.group(2))) if m else None


def _dates_as_labels(labels: list[str]) -> dict[str, float] | None:
    """Labels that are ISO dates (2026-03-15): ranked by the date they name."""
    dates = {lb: when(lb) if re.fullmatch(r"\d{4}-\d\d-\d\d.*", lb.strip()) else None for lb in labels}
    if not all(dates.values()):
        return None
    return {lb: d.timestamp() for lb, d in dates.items() if d}


def _numbered_labels(labels: list[str]) -> dict[str, float] | None:
    """Labels numbered with one prefix (V1 < V2 < V10): ranked by the number. Two prefixes (V1, T1)
    say no order between them."""
    numbered = {lb: _numbered(lb) for lb in labels}
    prefixes = {n[0] for n in numbered.values() if n}
    if not all(numbered.values()) or len(prefixes) != 1:
        return None
    return {lb: float(n[1]) for lb, n in numbered.items() if n}


def _times_after_surgery(labels: list[str]) -> dict[str, float] | None:
    """Labels that are times after surgery (preop < 6 weeks < 3 months): ranked by days."""
    durations = {lb: _duration_days(lb) for lb in labels}
    if any(v is None for v in durations.values()):
        return None
    return {lb: float(v) for lb, v in durations.items() if v is not None}


# The schemes a label can say its place by, tried in this order; the first that reads every label
# wins. Each text is what the page prints as the rule that was applied, so a scheme and the
# sentence that names it live on one line.
_LABEL_SCHEMES = (
    (_dates_as_labels, "dates as labels"),
    (_numbered_labels, "numbered labels (V1 < V2 < V10)"),
    (_times_after_surgery, "times after surgery (preop < 6 weeks < 3 months < 1 year)"),
)


def label_order(labels: list[str]) -> tuple[dict[str, float], str] | None:
    """({label: rank}, how) when every label says its place by one scheme, else None."""
    if not labels:
        return None
    for ranks_of, how in _LABEL_SCHEMES:
        ranks = ranks_of(labels)
        if ranks is not None:
            return ranks, how
    return None


# ---- grouping -----------------------------------------------------------------------------------

def _base_label(r: Recording) -> str:
    d = r.date()
    return r.visit or (day(d[0]) if d and d[1] in TRUSTED else r.file)


def _dated(recs: list[Recording]) -> tuple[str | None, str | None]:
    """The visit's date: its earliest trusted date, else its earliest file time."""
    for kinds in (TRUSTED, (DATE_FILE,)):
        found = sorted((w, d[0], d[1]) for r in recs if (d := r.date()) and d[1] in kinds and (w := when(d[0])))
        if found:
            return found[0][1], found[0][2]
    return None, None


def _by_trusted_day(recs: list[Recording]) -> list[list[tuple[dt.datetime, Recording]]]:
    """The recordings with a trusted date, in date order, cut where the gap to the previous one is
    more than SAME_VISIT: one list per visit. Recordings without a trusted date are left out."""
    trusted = sorted(((w, r) for r in recs if (d := r.date()) and d[1] in TRUSTED and (w := when(d[0]))),
                     key=lambda x: x[0])
    clusters: list[list[tuple[dt.datetime, Recording]]] = []
    for w, r in trusted:
        if clusters and w - clusters[-1][-1][0] <= SAME_VISIT:
            clusters[-1].append((w, r))
        else:
            clusters.append([(w, r)])
    return clusters


def _visits_of_label(patient: str, label: str, recs: list[Recording]) -> tuple[list[Visit], list[str]]:
    """(visits, warnings) of one label: one visit, or one per day cluster when its trusted dates are
    apart (with a warning: never merged). Raises OrderError when some recordings of a split label have no
    date, since which visit they belong to cannot be told."""
    clusters = _by_trusted_day(recs)
    if len(clusters) <= 1:
        return [Visit(label, recs, *_dated(recs), base=label)], []
    undated = len(recs) - sum(len(cluster) for cluster in clusters)     # the clusters hold the dated ones
    days = [day(c[0][0].isoformat()) for c in clusters]
    if undated:
        raise OrderError(f"patient {patient}: recordings labelled {label} were made on {', '.join(days)} and "
                         f"{undated} more have no date of their own, so which visit they belong to cannot be "
                         "told; give them their own visit label or --visit-date")
    gap = (clusters[-1][0][0] - clusters[0][0][0]).days
    warning = (f"patient {patient}: recordings labelled {label} were made {gap} days apart "
               f"({' and '.join(days)}); they are shown as separate visits, not merged: check the labels")
    visits = []
    for cluster, on in zip(clusters, days):
        recs_c = [r for _, r in cluster]
        visits.append(Visit(f"{label} ({on})", recs_c, *_dated(recs_c), base=label))
    return visits, [warning]


def _given_date_warnings(patient: str, visits: list[Visit]) -> list[str]:
    """A warning per recording whose --visit-date disagrees with the date in its own container (the
    container's date is the one used)."""
    warnings = []
    for v in visits:
        for r in v.recordings:
            d = r.date()
            if r.visit_date and d and d[1] == DATE_CONTAINER and day(r.visit_date) != day(d[0]):
                warnings.append(f"patient {patient}: {r.file} ({v.label}) was given the visit date {day(r.visit_date)} "
                                f"but the recording itself says {day(d[0])}; the recording's own date is used")
    return warnings


def group_visits(patient: str, recordings: list[Recording]) -> tuple[list[Visit], list[str]]:
    """(visits, warnings). One visit per label, split where one label's trusted dates are apart."""
    groups: dict[str, list[Recording]] = {}
    for r in recordings:
        groups.setdefault(_base_label(r), []).append(r)
    visits: list[Visit] = []
    warnings: list[str] = []
    for label, recs in groups.items():
        label_visits, label_warnings = _visits_of_label(patient, label, recs)
        visits += label_visits
        warnings += label_warnings
    return visits, warnings + _given_date_warnings(patient, visits)


# ---- order --------------------------------------------------------------------------------------

def _contradiction(ordered: list[Visit], trusted_only: bool = True) -> tuple[Visit, Visit] | None:
    """The first pair (earlier, later) in ``ordered`` whose dates say the opposite: trusted dates by
    calendar day (a visit is a day), file times (with trusted_only=False) to the second."""
    dated = [v for v in ordered if v.date and (v.trusted or not trusted_only)]
    for i, a in enumerate(dated):
        for b in dated[i + 1:]:
            if day(a.date) > day(b.date) if trusted_only else _by_date(a)[0] > _by_date(b)[0]:
                return a, b
    return None


def _by_date(v: Visit) -> tuple:
    return (when(v.date or "") or dt.datetime.min.replace(tzinfo=dt.timezone.utc), natural_key(v.label))


def visit_name(label: str) -> str:
    """How sentences name a visit: "visit V1", but "Visit 2" as it is."""
    return label if label.lower().startswith("visit") else f"visit {label}"


def _say_dates(a: Visit, b: Visit) -> str:
    return f"{visit_name(a.label)} is dated {day(a.date)} and {visit_name(b.label)} {day(b.date)}"


Ordered = tuple[list[Visit], str, str, list[str]]     # order_visits' answer: visits, ORDER_*, sentence, warnings


def _refuse_given_against_dates(patient: str, ordered: list[Visit], given: list[str]) -> None:
    """OrderError when --order puts two visits the other way round from their trusted dates (visits
    on one day may go either way)."""
    rank = {lb: i for i, lb in enumerate(given)}
    against = [v for v in ordered if v.base in rank]
    for a, b in zip(against, against[1:]):
        if rank[a.base] > rank[b.base] and day(a.date) != day(b.date):
            raise OrderError(f"patient {patient}: --order puts {b.base} before {a.base}, but "
                             f"{_say_dates(a, b)} (their recordings' own dates); correct the labels or --order")


def _labels_against_dates(patient: str, ordered: list[Visit], ranks: dict[str, float]) -> list[str]:
    """A warning when labels that say an order (ranks, empty when they say none) disagree with the
    date order: the dates win, the page says so."""
    pair = next(((a, b) for i, a in enumerate(ordered) for b in ordered[i + 1:]
                 if ranks and ranks[a.base] > ranks[b.base]), None)
    if not pair:
        return []
    a, b = pair
    return [f"patient {patient}: the recording dates put {visit_name(a.label)} ({day(a.date)}) before "
            f"{visit_name(b.label)} ({day(b.date)}), against their labels; the page follows the dates: "
            "check the labels or the camera's clock"]


def _order_by_trusted_dates(patient: str, visits: list[Visit], given: list[str] | None,
                            by_base: tuple[dict[str, float], str] | None) -> Ordered:
    """Rule 1: every visit has a trusted date."""
    ordered = sorted(visits, key=_by_date)
    if given:
        _refuse_given_against_dates(patient, ordered, given)
    warnings = _labels_against_dates(patient, ordered, by_base[0] if by_base else {})
    sources = sorted({v.date_source or "" for v in visits})
    return ordered, ORDER_DATE, f"Visits are in order of their dates ({' and '.join(sources)}).", warnings


def _order_as_given(patient: str, visits: list[Visit], given: list[str]) -> Ordered:
    """Rule 2: --order, which must name every visit and agree with the trusted dates there are."""
    rank = {lb: i for i, lb in enumerate(given)}
    missing = [v.base for v in visits if v.base not in rank]
    if missing:
        raise OrderError(f"patient {patient}: --order does not name visit(s) {', '.join(sorted(set(missing)))}; "
                         "name every visit of the patient")
    ordered = sorted(visits, key=lambda v: (rank[v.base], _by_date(v)))
    bad = _contradiction(ordered)
    if bad:
        raise OrderError(f"patient {patient}: --order puts {bad[0].base} before {bad[1].base}, but "
                         f"{_say_dates(*bad)} (their own dates); correct the labels or --order")
    return ordered, ORDER_GIVEN, f"Visits are in the order given with --order ({', '.join(given)}).", []


def _order_by_labels(patient: str, visits: list[Visit], by_base: tuple[dict[str, float], str]) -> Ordered:
    """Rule 3: labels that say an order, refused where trusted dates disagree; file times that
    disagree are only mentioned (a copy changes them)."""
    ranks, how = by_base
    ordered = sorted(visits, key=lambda v: (ranks[v.base], _by_date(v)))
    bad = _contradiction(ordered)
    if bad:
        raise OrderError(f"patient {patient}: the labels put {bad[0].base} before {bad[1].base}, but "
                         f"{_say_dates(*bad)} (their own dates); give the order with --order")
    note = f"Visits are in the order their labels say: {how}."
    if _contradiction(ordered, trusted_only=False):
        note += (" The files' modification times say otherwise; they change whenever a file is copied and are "
                 "ignored.")
    return ordered, ORDER_LABEL, note, []


def _order_by_file_times(patient: str, visits: list[Visit]) -> Ordered:
    """Rule 4, the last resort: every visit has a date, some only a file modification time."""
    ordered = sorted(visits, key=_by_date)
    by_file = [v.label for v in ordered if not v.trusted]
    warning = (f"patient {patient}: the place of visit(s) {', '.join(by_file)} comes from file modification "
               "times, which copying changes; give --order or --visit-date if it is wrong")
    return (ordered, ORDER_FILE_TIME,
            "Visits are in order of their dates; for " + ", ".join(by_file) + " that is the file's modification "
            "time (last resort: copying a file changes it; give --order or --visit-date to be sure).", [warning])


def _nothing_to_order(visits: list[Visit]) -> Ordered:
    """No visit or one: no order to tell."""
    note = "One visit." if visits else "No visit."
    return visits, ORDER_DATE if visits and visits[0].trusted else ORDER_LABEL, note, []


def _cannot_tell(patient: str, visits: list[Visit]) -> OrderError:
    undated = [v.label for v in visits if not v.date]
    return OrderError(f"patient {patient}: the order of the visits ({', '.join(sorted(v.label for v in visits))}) "
                      f"cannot be told: {', '.join(undated)} {'has' if len(undated) == 1 else 'have'} no date and the "
                      "labels do not say an order; "
                      "give it with --order (e.g. --order " + ",".join(sorted(v.base for v in visits)) + ")")


def order_visits(patient: str, visits: list[Visit], given: list[str] | None = None) -> Ordered:
    """(visits in order, ORDER_*, the sentence the page shows, warnings). Raises OrderError.

    The rules of the module docstring, first that applies; each rule is one function, so the rule
    applied and the sentence the page prints about it stay together."""
    if len(visits) <= 1:
        return _nothing_to_order(visits)
    by_base = label_order(sorted({v.base for v in visits}))
    if all(v.trusted for v in visits):
        return _order_by_trusted_dates(patient, visits, given, by_base)
    if given:
        return _order_as_given(patient, visits, given)
    if by_base:
        return _order_by_labels(patient, visits, by_base)
    if all(v.date for v in visits):
        return _order_by_file_times(patient, visits)
    raise _cannot_tell(patient, visits)
