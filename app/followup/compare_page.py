"""compare_<patient>.html: one patient's visits on one offline page, and its pictures.

Sections: the order rule and this patient's order, warnings (reused labels, dates against labels,
the same recording twice, near-identical patient IDs), the visits (date and where it comes from,
recording, verdict, the conditions that could explain a difference, changed ones marked; "not
usable" ones marked), per region the plain sentence, a trend chart (visit on x, headline symmetry % with its 95 % interval; unusable
recordings as grey crosses, never joined to the trend line), the values table and the changes
table (difference, MDC95, real or not, weaker side, changed conditions), resting asymmetry per
visit (no interval, so never called a change), and the rest and peak frames of each visit side by side when the
recordings (or their annotated videos) can be read.
"""
from __future__ import annotations

import base64
import logging
import math
from collections.abc import Sequence

from app.base.wording import first_few
from app.followup.pages import chart, e, interval, num, page
from app.followup.trend import REST_NOT_JUDGED, Point, RegionTrend, changed_conditions, conditions_text
from app.followup.visit_order import Visit
from app.followup.visit_order import RULE
from app.followup.visits import CONDITIONS, Recording
from app.measures.definitions import MEASURE_BY_NAME
from app.results.verdict import NOT_USABLE

log = logging.getLogger(__name__)
PICTURE_WIDTH = 220
TREND_COLOUR = "#0072B2"
UNUSABLE_CELL = " class='unusable'"


# ---- pictures -----------------------------------------------------------------------------------

def _jpeg_uri(image) -> str | None:
    import cv2

    h, w = image.shape[:2]
    if w > PICTURE_WIDTH:
        image = cv2.resize(image, (PICTURE_WIDTH, max(1, round(h * PICTURE_WIDTH / w))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii") if ok else None


def recording_pictures(rec: Recording) -> tuple[list[tuple[str, str]], str | None]:
    """([(caption, data URI)]: rest, then each region's peak; the video they came from or None)."""
    wanted: list[tuple[str, float]] = []
    if rec.rest_window is not None:
        wanted.append(("rest", (rec.rest_window[0] + rec.rest_window[1]) / 2))
    for h in rec.headlines.values():
        if h.peak_s is not None:
            wanted.append((f"{h.label.split(' (')[0]} peak", h.peak_s))
    if not wanted:
        return [], None
    from app.base import logs
    from app.video.reader import VideoError, grab_frames

    for video in rec.videos:
        if not video.is_file():
            continue
        logs.note_private(video)          # the log never shows a recording's name
        try:
            frames = grab_frames(video, [t * 1000.0 for _, t in wanted])
        except (VideoError, OSError, ValueError):
            log.warning("could not read frames from %s", video, exc_info=True)
            continue
        pics = [(cap, uri) for (cap, _), f in zip(wanted, frames) if f is not None and (uri := _jpeg_uri(f))]
        if pics:
            return pics, video.name
    return [], None


# ---- chart --------------------------------------------------------------------------------------

def trend_svg(t: RegionTrend, visits: Sequence[Visit]) -> str:
    def draw(fig):
        ax = fig.subplots()
        xs = list(range(len(t.points)))
        used = [(x, p) for x, p in zip(xs, t.points) if p.in_trend]
        out = [(x, p) for x, p in zip(xs, t.points) if not p.usable and p.symmetry is not None]
        for group, colour, marker, label in ((used, TREND_COLOUR, "o", "usable"),
                                             (out, "0.6", "x", f"{NOT_USABLE} (left out)")):
            if not group:
                continue
            gx = [x for x, _ in group]
            gy = [float(p.symmetry or 0.0) for _, p in group]
            err = [[y - p.ci[0] if p.ci else 0.0 for y, (_, p) in zip(gy, group)],
                   [p.ci[1] - y if p.ci else 0.0 for y, (_, p) in zip(gy, group)]]
            ax.errorbar(gx, gy, yerr=err, fmt=marker, color=colour, ecolor=colour, capsize=4, ms=6,
                        ls="-" if group is used else "none", lw=1.2, label=label)
        for x, p in zip(xs, t.points):
            if not p.usable:
                ax.annotate(NOT_USABLE, (x, 4), ha="center", fontsize=7, color="#c62828")
            elif p.symmetry is None:      # say why there is no point rather than leave a silent gap
                ax.annotate("no value" if "5-point" not in p.note else "5-point: not measurable", (x, 4),
                            ha="center", fontsize=7, color="0.4")
        ax.set_xticks(xs, [f"{v.label}\n{(v.date or '')[:10]}" for v in visits])
        ax.set_xlim(-0.5, len(xs) - 0.5)
        ax.set_ylim(0, 105)
        ax.set_ylabel("symmetry % (100 = both sides equal)")
        ax.set_title(f"{t.noun}: symmetry per visit with 95 % interval", fontsize=8)
        ax.grid(alpha=0.3, lw=0.5)
        if out:
            fig.legend(loc="outside lower center", ncols=2, frameon=False, fontsize=7)

    return chart(draw, width_in=6.0, height_in=2.8, salt=f"trend-{t.region}")


# ---- tables -------------------------------------------------------------------------------------

def _unusable_class(usable: bool) -> str:
    """The class attribute that greys out a row or cell of what is not usable ('' for what is)."""
    return "" if usable else UNUSABLE_CELL


def _level_cell(rec_level: str | None) -> str:
    if rec_level is None:
        return "<td class='l'>no verdict</td>"
    cls = " nu" if rec_level == NOT_USABLE else ""
    return f"<td class='l{cls}'>{e(rec_level)}</td>"


def _condition_cell(r: Recording, previous: Recording | None) -> str:
    """The recording's conditions; those that differ from the previous visit's first recording marked."""
    parts = []
    changed = {c["what"] for c in changed_conditions(previous, r)}      # none without a previous visit
    for key, name in CONDITIONS.items():
        if key == "verdict" or key not in r.conditions:
            continue
        value = r.conditions[key]
        text = str(value)[:12] + "..." if key.endswith("_model") else str(value)
        item = f"{e(name)}: {e(text)}"
        parts.append(f"<b class='changed'>{item} (changed)</b>" if key in changed else item)
    return "<td class='l small'>" + "<br>".join(parts) + "</td>"


def _visits_table(visits: Sequence[Visit]) -> str:
    rows = []
    previous: Recording | None = None
    for v in visits:
        for r in v.recordings:
            marked = _unusable_class(r.usable)
            reasons = first_few(r.reasons, 3, sep="; ")
            d = r.date()
            on, source = (d[0][:10], d[1]) if d else ("", "no date")
            date = f"{e(on)}<br><span class='sub small'>{e(source)}</span>"
            rows.append(f"<tr{marked}><td class='l'>{e(v.label)}</td><td class='l'>{date}</td>"
                        f"<td class='l'>{e(r.file)}</td>{_level_cell(r.level)}<td class='l'>{e(reasons)}</td>"
                        f"{_condition_cell(r, previous)}</tr>")
        previous = next((r for r in v.recordings if r.usable), v.recordings[0])     # a visit has recordings
    head = ("<tr><th class='l'>visit</th><th class='l'>date (from)</th><th class='l'>recording</th>"
            "<th class='l'>verdict</th><th class='l'>reasons</th><th class='l'>conditions</th></tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _side(p: Point, side: str) -> str:
    if p.headline is None:
        return "<td>&ndash;</td>"
    s = getattr(p.headline, side)
    return f"<td>{num(s.value)}{interval(s.ci95)}</td>"


def _values_table(t: RegionTrend) -> str:
    unit = e(t.unit or "")
    head = (f"<tr><th class='l'>visit</th><th class='l'>recording</th><th>right ({unit})</th><th>left ({unit})</th>"
            "<th>symmetry % (95 % CI)</th><th class='l'>weaker</th><th class='l'>in the trend</th></tr>")
    rows = []
    for p in t.points:
        marked = _unusable_class(p.usable)
        sym = f"{num(p.symmetry, 0)}{interval(p.ci, 0)}" if p.symmetry is not None else "&ndash;"
        weaker = e(p.headline.weaker) if p.headline and p.headline.weaker else "&ndash;"
        state = "yes" if p.in_trend else e(p.note or "no")
        rows.append(f"<tr{marked}><td class='l'>{e(p.visit)}</td><td class='l'>{e(p.file or '')}</td>{_side(p, 'right')}"
                    f"{_side(p, 'left')}<td>{sym}</td><td class='l'>{weaker}</td><td class='l'>{state}</td></tr>")
    return f"<table>{head}{''.join(rows)}</table>"


# Whether a step is a real change, by its direction (a step that changed the weaker side only is one too).
REAL_CHANGE = {"rose": "yes: beyond the error", "fell": "yes: beyond the error", "no change": "no: within the error",
               "not judged": "not judged (no interval)"}


def _steps_table(t: RegionTrend) -> str:
    if not t.steps:
        return ""
    head = ("<tr><th class='l'>from &rarr; to</th><th>symmetry %</th><th>difference</th><th>MDC95</th>"
            "<th class='l'>real change?</th><th class='l'>weaker side</th><th class='l'>also changed</th></tr>")
    rows = []
    for c in t.steps:
        f, to = c["from"], c["to"]
        flip = c["weaker_side_changed"]
        real = "yes: the weaker side changed" if flip and not c["beyond_error"] else REAL_CHANGE[c["direction"]]
        side = (f"<b>{e(flip['from'])} &rarr; {e(flip['to'])}</b>" if flip else
                f"{e(f['weaker'] or '&ndash;')} &rarr; {e(to['weaker'] or '&ndash;')}".replace("&amp;ndash;", "&ndash;"))
        cond = e(conditions_text(c["conditions_changed"])) if c["conditions_changed"] else "&ndash;"
        rows.append(f"<tr><td class='l'>{e(c['from_visit'])} &rarr; {e(c['to_visit'])}</td>"
                    f"<td>{num(f['symmetry_pct'], 0)} &rarr; {num(to['symmetry_pct'], 0)}</td>"
                    f"<td>{'+' if c['difference_pct'] > 0 else ''}{num(c['difference_pct'], 1)}</td>"
                    f"<td>{num(c['mdc95_pct'], 1)}</td><td class='l'>{e(real)}</td><td class='l'>{side}</td>"
                    f"<td class='l'>{cond}</td></tr>")
    return f"<h3>Visit to visit</h3><table>{head}{''.join(rows)}</table>"


def rest_rows(visits: Sequence[Visit]) -> dict[str, list[float | None]]:
    """Resting asymmetry (right - left, mm where the measure has mm) per measure, per visit; the
    visit's first usable recording with rest values (else its first recording)."""
    chosen = [_rest_of(v) for v in visits]
    names = list(dict.fromkeys(k for rest in chosen for k, d in rest.items() if "difference" in d))
    return {name: [_rest_difference(rest, name) for rest in chosen] for name in names}


def _rest_of(visit: Visit) -> dict:
    """The rest values of the visit's first usable recording that has them (else its first with them)."""
    with_rest = [r for r in visit.recordings if r.rest]
    best = next((r for r in with_rest if r.usable), with_rest[0] if with_rest else None)
    return best.rest if best else {}


def _rest_difference(rest: dict, name: str) -> float | None:
    d = rest.get(name) or {}
    x = d.get("difference_mm", d.get("difference"))
    return float(x) if isinstance(x, (int, float)) and math.isfinite(x) else None


def _unit_of(name: str) -> str:
    m = MEASURE_BY_NAME.get(name)
    if m is not None:
        return (m.mm_unit or "deg").replace("^2", "\u00b2")
    return ""


def _rest_table(visits: Sequence[Visit], rows: dict[str, list[float | None]]) -> str:
    if not rows:
        return "<p class='sub'>No resting values were found (the measures files are missing or have no rest).</p>"

    head = "<tr><th class='l'>at rest: right &minus; left</th>" + "".join(
        f"<th>{e(v.label)}{f'<br>({NOT_USABLE})' if not v.usable else ''}</th>" for v in visits) + "</tr>"
    body = []
    for name, vals in rows.items():
        m = MEASURE_BY_NAME.get(name)
        label = m.label if m is not None else name.replace("_", " ")
        cells = "".join(f"<td{_unusable_class(v.usable)}>{num(x)}</td>" for v, x in zip(visits, vals))
        body.append(f"<tr><td class='l'>{e(label)} ({e(_unit_of(name))})</td>{cells}</tr>")
    return f"<table>{head}{''.join(body)}</table>"


def _pictures_html(visits: Sequence[Visit], pictures: dict[str, tuple[list[tuple[str, str]], str | None]] | None,
                   reason: str) -> str:
    out = ["<h2>Rest and peak frames</h2>"]
    if not pictures or not any(p for p, _ in pictures.values()):
        out.append(f"<p class='sub'>No frames are shown: {e(reason)}.</p>")
        return "".join(out)
    for v in visits:
        pics, source = pictures.get(v.label, ([], None))
        mark = f" ({NOT_USABLE})" if not v.usable else ""
        if not pics:
            out.append(f"<h3>{e(v.label)}{mark}</h3><p class='sub'>no video could be read for this visit</p>")
            continue
        figs = "".join(f"<figure><img src='{uri}' alt='{e(cap)}' width='{PICTURE_WIDTH}'><figcaption>{e(cap)}</figcaption>"
                       "</figure>" for cap, uri in pics)
        out.append(f"<div class='keep'><h3>{e(v.label)}{mark} <span class='sub'>from {e(source)}</span></h3>"
                   f"<div class='pics frames'>{figs}</div></div>")
    return "".join(out)


def render(patient: str, visits: Sequence[Visit], order_note: str, trends: Sequence[RegionTrend],
           pictures: dict[str, tuple[list[tuple[str, str]], str | None]] | None, pictures_reason: str,
           created: str, warnings: Sequence[str] = ()) -> str:
    body = [f"<h1>Follow-up of patient {e(patient)}</h1>",
            f"<div class='sub'>{len(visits)} visit(s).</div>",
            f"<div class='note'><b>Order of visits.</b> {e(order_note)}<br><span class='small'>{e(RULE)}</span></div>"]
    body += [f"<div class='warn'><b>Warning:</b> {e(w)}</div>" for w in warnings]
    body += ["<div class='note'>For the clinician's own records: this page shows the patient ID, recording names and "
             "the face. Symmetry = 100 &times; smaller / larger movement of the two sides at the expression's peak "
             "(100 = equal). A change is called real only beyond the measurement's own error: the minimal detectable "
             "change (MDC95) from the two visits' 95 % intervals. Those intervals cover the frame-to-frame variation "
             "within each recording, not how a patient's face varies from one session to the next. A change of the "
             "weaker side is a change. Recordings rated "
             f"“{NOT_USABLE}” are shown, marked, and never enter a trend.</div>",
             "<h2>Visits</h2>", _visits_table(visits)]
    for t in trends:
        body.append(f"<section class='region' id='region-{e(t.region)}'><h2>{e(t.noun)} ({e(t.region)})</h2>")
        body.append(f"<p class='sentence'><b>{e(t.sentence)}</b></p>")
        measured = any(p.headline is not None for p in t.points)
        if t.excluded and measured:
            body.append(f"<div class='bad'>Left out (recording not usable): {e(', '.join(t.excluded))}</div>")
        if any(p.symmetry is not None for p in t.points):
            body.append(f"<figure>{trend_svg(t, visits)}</figure>")
        body.append((_values_table(t) + _steps_table(t) if measured else _absent_table(t)) + "</section>")
    body.append("<h2>Resting asymmetry</h2><p class='sub'>Median over each visit's rest window; heights are "
                f"relative to the eye line.</p><div class='warn'>No change at rest is called: {e(REST_NOT_JUDGED)}."
                "</div>" + _rest_table(visits, rest_rows(visits)))
    body.append(_pictures_html(visits, pictures, pictures_reason))
    return page(f"FaceMirror follow-up {patient}", body, created)


def _absent_table(t: RegionTrend) -> str:
    """Why each visit has no value for a region nobody measured (5-point mode, not usable, did not move)."""
    rows = "".join(f"<tr><td class='l'>{e(p.visit)}</td><td class='l'>{e(p.note or 'no value')}</td></tr>"
                   for p in t.points)
    return f"<table><tr><th class='l'>visit</th><th class='l'>no value because</th></tr>{rows}</table>"
