"""NAME_summary.html: one self-contained, offline HTML file (no scripts, no network).

Content: verdict (when the report has one), rest and peak pictures with the midline, right-vs-left
time series per region (inline SVG from matplotlib) with the rest and the segments shaded, a table
of segment measures, the models and settings. A Content-Security-Policy forbids any network load.
"""
from __future__ import annotations

import html
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from app.measures.definitions import ASSUMED_IPD_MM, MEASURE_BY_NAME, SIDES, regions_for
from app.measures.figures import LEFT_COLOUR, LEVEL_COLOUR, PLOT_MEASURES, PLOT_MEASURES_5, RIGHT_COLOUR, pictures, \
    region_chart_svg
from app.measures.task_summary import tasks_html
from app.measures.io import MEASURES_FAILED, LandmarkTrack, MeasureTable, player_start_s
from app.measures.summary_pdf import REST_NOTE, file_name, input_video_text, record_rows, rest_rows, segment_measure_names
from app.measures.analysis import Analysis
from app.results.verdict import GOOD

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:1.4em;margin-bottom:0}h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ccc}
.sub{color:#666;margin-top:4px}.verdict{background:#f3f6fa;border-left:4px solid #0072B2;padding:8px 12px}
.warn{background:#fff4e5;border-left:4px solid #E69F00;padding:6px 12px;margin:6px 0}
table{border-collapse:collapse;font-size:.88em;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 7px;
text-align:right}th{background:#f4f4f4}td.l,th.l{text-align:left}.pics{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0}figcaption{font-size:.85em;color:#444}.r{color:RIGHT}.lft{color:LEFT}
tr.q td{color:#999}pre{font-size:.8em;background:#f7f7f7;padding:8px;overflow-x:auto}
.ci{color:#666;font-size:.85em}table.head td,table.head th{font-size:1.05em;padding:4px 9px}
table.record td{border:none;padding:1px 10px 1px 0}svg{max-width:100%;height:auto}
@media print{body{margin:0;max-width:none;font-size:10pt}h2,h2+p{break-after:avoid}h2{margin-top:1.2em}
table,figure,.pics,svg,h3,.keep{break-inside:avoid}h3{break-after:avoid}img{max-width:48%}}
""".replace("RIGHT", RIGHT_COLOUR).replace("LEFT", LEFT_COLOUR)
# Changes are signed: a closing eye has a negative fissure change. Said wherever changes are shown.
SIGN_NOTE = ("Signs: a positive change means the distance grew (brow raised, mouth corner moved out), a negative "
             "one that it shrank (an eye closing narrows its fissure, so a full closure reads about minus the "
             "resting opening); symmetry compares the sizes of the two sides' changes.")
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _keep(*parts: str) -> str:
    """Printed together on one page: a heading is never left alone at the foot of a page
    (browsers do not all honour break-after: avoid; a block that may not break inside works)."""
    return '<div class="keep">' + "".join(parts) + "</div>"


def _e(x) -> str:
    return html.escape(str(x))


def _num(x, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "&ndash;"
    return f"{x:.{digits}f}"


def _mmss(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


class _Clock:
    """Times as a player shows them (the CSV counts from the first frame; a recording whose first
    frame is at 0.852 s would otherwise be 25 frames off), with the frame number beside them."""

    def __init__(self, track: LandmarkTrack, report: dict | None):
        self.start_s = player_start_s(report)
        self.times_ms = np.asarray(track.times_ms, dtype=np.float64)
        self.frames = np.asarray(track.frames)

    def frame_at(self, seconds: float) -> int:
        i = int(np.clip(np.searchsorted(self.times_ms, seconds * 1000.0 - 1e-6), 0, len(self.times_ms) - 1))
        return int(self.frames[i])

    def __call__(self, seconds: float) -> str:
        return f"{_mmss(seconds + self.start_s)} (frame {self.frame_at(seconds)})"


def _verdict_html(report: dict | None) -> str:
    """The report's verdict as a clinician reads it: the level, then each reason and note on its own line."""
    verdict = (report or {}).get("verdict")
    if not verdict:
        return ""
    if not isinstance(verdict, dict):
        return f'<h2>Verdict</h2><div class="verdict">{_e(verdict)}</div>'
    level = str(verdict.get("level", ""))
    colour = LEVEL_COLOUR.get(level, "#333")
    items = "".join(f"<li>{_e(r)}</li>" for r in verdict.get("reasons") or [])
    notes = "".join(f"<li>{_e(n)}</li>" for n in verdict.get("notes") or [])
    return (f'<h2>Verdict</h2><div class="verdict" style="border-left-color:{colour}">'
            f'<b style="color:{colour}">{_e(level if level == GOOD else level.upper())}</b>'
            + (f"<ul>{items}</ul>" if items else "")
            + (f'<div class="sub">Notes:</div><ul>{notes}</ul>' if notes else "") + "</div>")


def _warning_texts(result: dict, report: dict | None) -> list[str]:
    # The run's own "no symmetry measures" warning is stale once measures exist (e.g. made again with --rest).
    run = [w for w in (report or {}).get("warnings", []) if not str(w).startswith(MEASURES_FAILED)]
    return list(dict.fromkeys([str(w) for w in result.get("warnings", [])] + [str(w) for w in run]))


def _warnings_html(result: dict, report: dict | None) -> str:
    return "".join(f'<div class="warn">{_e(w)}</div>' for w in _warning_texts(result, report))


def _with_ci(value, ci, digits: int = 1) -> str:
    """A value and, when known, its 95 % interval in small grey type ("a to b": bounds may be negative)."""
    shown = _num(value, digits)
    if value is not None and ci and all(v is not None and math.isfinite(v) for v in ci):
        shown += f' <span class="ci">({ci[0]:.{digits}f} to {ci[1]:.{digits}f})</span>'
    return shown


def _value_cell(m, value, ci=None) -> str:
    return _with_ci(m.to_display(value) if value is not None else None,
                    [m.to_display(v) if v is not None else None for v in ci] if ci else None)


def _sym_cell(d: dict) -> str:
    return _with_ci(d["symmetry_pct"], d.get("symmetry_ci95"), 0)


def _segment_rows(seg: dict, names: list[str]) -> str:
    rows = []
    for name in names:
        m, d = MEASURE_BY_NAME[name], seg["measures"][name]
        weaker = d["weaker"] or ("&ndash;" if d["symmetry_pct"] is None else "none")
        quiet = ' class="q"' if d["symmetry_pct"] is None else ""
        rows.append(f'<tr{quiet}><td class="l">{_e(m.label)} ({_e(m.display_unit)})</td>'
                    f'<td class="r">{_value_cell(m, d["right"], d.get("right_ci95"))}</td>'
                    f'<td class="lft">{_value_cell(m, d["left"], d.get("left_ci95"))}</td>'
                    f'<td>{_sym_cell(d)}</td>'
                    f'<td class="l">{weaker}</td><td>{_with_ci(d["onset_lag_ms"], d.get("onset_lag_ci95_ms"), 0)}</td></tr>')
    head = ('<tr><th class="l">change from rest (95 % interval)</th><th>patient right</th><th>patient left</th>'
            '<th>symmetry %</th><th class="l">weaker</th><th>onset lag ms (R&minus;L)</th></tr>')
    return f"<table>{head}{''.join(rows)}</table>"


def _closure_text(closure: dict | None) -> str:
    if not closure:
        return ""
    parts = []
    for s in SIDES:
        d = closure.get(s)
        if not d:
            continue
        lo, hi = d["gap_mm_ci95"]
        gap = f"gap {d['gap_mm']:.1f} mm" + (f" ({lo:.1f}-{hi:.1f})" if lo is not None and hi is not None else "")
        parts.append(f"patient {s} eye: " + ("complete closure" if d["complete"] else
                                             f"<b>incomplete closure</b>, {gap}") + (f", {gap}" if d["complete"] else ""))
    return "<p>" + "; ".join(parts) + f" (complete = gap below {closure['complete_below_mm']:g} mm)</p>"


def _hint_html(hint: dict | None) -> str:
    if not hint:
        return ""
    parts = []
    for s in SIDES:
        d = hint[s]
        if "fissure_narrowing_pct" in d:
            parts.append(f"{s}: eye narrows {_num(d['fissure_narrowing_pct'], 0)} %")
        else:
            parts.append(f"{s}: mouth corner moves {_num(d['commissure_change_mm'], 1)} mm")
    flag = "<b>possible synkinesis</b>: " if hint["flag"] else "synkinesis check: "
    return f'<p class="{"warn" if hint["flag"] else "sub"}">{flag}{_e(hint["kind"])} &mdash; {_e("; ".join(parts))}. ' \
           f'<i>{_e(hint["note"])}</i></p>'


def _whole_face_html(whole: dict) -> str:
    parts = []
    for name, d in whole.items():
        m = MEASURE_BY_NAME[name]
        if m.mm_unit:
            parts.append(f"{m.label}: {_num(d['rest_mm'])} &rarr; {_num(d['peak_mm'])} mm")
        else:
            parts.append(f"{m.label}: {_num(d['rest'])}&deg; &rarr; {_num(d['peak'])}&deg;")
    return f"<p class='sub'>rest &rarr; peak: {'; '.join(parts)}</p>" if parts else ""


def _segments_html(result: dict, n_points: int, clock: "_Clock") -> str:
    if not result["segments"]:
        frames = result.get("frames") or {}
        total, measured = frames.get("total", 0), frames.get("measured", 0)
        if measured < 0.8 * total:      # never when there are no frames: measured >= 0
            return ("<h2>Expression segments</h2><p>No expression was found in the frames that could be "
                    f"measured; {total - measured} of {total} frames had no measures (no face found or left "
                    "out), so an expression made there cannot be seen here.</p>")
        return "<h2>Expression segments</h2><p>No expression was found: the face stayed near its rest position.</p>"
    intro = ("<h2>Expression segments</h2>"
             f"<p class='sub'>Change from rest on the expression's plateau (median) per side, with 95 % intervals; "
             f"lengths in mm assuming an interpupillary distance of {ASSUMED_IPD_MM:g} mm. {SIGN_NOTE} "
             "Symmetry = 100 &times; smaller / larger; a weaker side is named only when the interval excludes "
             "equal movement.</p>")
    out: list[str] = []
    for seg in result["segments"]:
        main, rest_names = segment_measure_names(seg, n_points)
        out.append(_keep(intro if not out else "",
                         f"<h3>{seg['index'] + 1}. {_e(seg['region'])} &nbsp; {clock(seg['start_s'])} &ndash; "
                         f"{clock(seg['end_s'])}, peak {clock(seg['peak_s'])}</h3>", _segment_rows(seg, main)))
        out.append(_whole_face_html(seg.get("whole_face") or {}))
        out.append(_closure_text(seg.get("eye_closure")))
        out.append(_hint_html(seg.get("synkinesis_hint")))
        if rest_names:
            out.append(_keep("<p class='sub'>Other measures in this segment</p>", _segment_rows(seg, rest_names)))
    return "".join(out)


def _rest_html(result: dict, n_points: int) -> str:
    """Resting symmetry: right, left and right - left of every sided measure at rest."""
    rows = [f'<tr><td class="l">{_e(label)}</td><td class="r">{_num(r)}</td><td class="lft">{_num(lf)}</td>'
            f'<td>{_with_ci(diff, ci)}</td></tr>' for label, r, lf, diff, ci in rest_rows(result)]
    head = ('<tr><th class="l">at rest</th><th>patient right</th><th>patient left</th>'
            '<th>right &minus; left</th></tr>')
    return _keep(f"<h2>Rest: resting symmetry</h2><p class='sub'>{_e(REST_NOTE)}</p>",
                 f"<table>{head}" + "".join(rows) + "</table>")


def _pictures_html(track: LandmarkTrack, table: MeasureTable, analysis: Analysis, frame_provider,
                   clock: "_Clock") -> str:
    rest_mid = (analysis.rest[0] + analysis.rest[1] - 1) // 2
    idx = [rest_mid] + [s.peak for s in analysis.segments]
    captions = ["rest"] + [f"{i + 1}. {s.region} peak" for i, s in enumerate(analysis.segments)]
    uris = pictures(track, table, idx, frame_provider)
    figs = []
    for uri, cap, i in zip(uris, captions, idx):
        if uri:
            figs.append(f'<figure><img src="{uri}" alt="{_e(cap)}" width="320"><figcaption>{_e(cap)} '
                        f'({clock(float(track.times_ms[i]) / 1000)})</figcaption></figure>')
    note = "" if frame_provider is not None else \
        "<p class='sub'>Video frames were not available: the pictures show the landmarks.</p>"
    return _keep("<h2>Rest and peak frames</h2>", note, f"<div class='pics'>{''.join(figs)}</div>")


def _charts_html(table: MeasureTable, analysis: Analysis) -> str:
    plots = PLOT_MEASURES_5 if table.n_points == 5 else PLOT_MEASURES
    intro = ("<h2>Right vs left over time</h2>"
             "<p class='sub'><span class='r'>&#9632; patient right</span> &nbsp; <span class='lft'>&#9632; patient "
             "left</span> &nbsp; grey band: rest; coloured bands: expression segments (strong: this region).</p>")
    out: list[str] = []
    for region in regions_for(table.n_points):
        if plots.get(region):
            out.append(_keep(intro if not out else "", f"<h3>{_e(region)}</h3>",
                             region_chart_svg(table, analysis, region)))
    return "".join(out)


def _css_string(text: str) -> str:
    """``text`` as a CSS string literal inside a <style> element: quotes, backslashes, line breaks
    and angle brackets escaped (a patient ID of "</style>" must not end the element)."""
    return '"' + "".join(c if c.isprintable() and c not in '"\\<>' else f"\\{ord(c):x} " for c in text) + '"'


def _page_css(result: dict, name: str) -> str:
    """Who and what on every printed page, and "page n of m" (CSS page-margin boxes: Chromium-based
    browsers and Edge print them; NAME_summary.pdf carries the same on every page for any reader)."""
    rec, subj = result.get("recording") or {}, result.get("subject") or {}
    who = f"Patient {subj.get('patient') or 'not given'} \u00b7 Visit {subj.get('visit') or 'not given'}"
    what = f"{rec.get('file') or name}" + (f" \u00b7 sha256 {rec['sha256'][:12]}" if rec.get("sha256") else "")
    small = "font-size:8pt;color:#444"
    return (f"@page{{margin:16mm 14mm 16mm 14mm;"
            f"@top-left{{content:{_css_string(who)};{small}}}"
            f"@top-right{{content:{_css_string('FaceMirror symmetry summary')};{small}}}"
            f"@bottom-left{{content:{_css_string(what)};{small}}}"
            f"@bottom-right{{content:\"page \" counter(page) \" of \" counter(pages);{small}}}}}")


def _kv_table(d: dict) -> str:
    rows = "".join(f'<tr><td class="l">{_e(k)}</td><td class="l">'
                   f'{_e(json.dumps(v) if isinstance(v, (dict, list)) else v)}</td></tr>' for k, v in d.items())
    return f"<table>{rows}</table>"


def _record_html(result: dict, report: dict | None) -> str:
    """What this record is about: recording, subject, dates, versions (everything printed)."""
    body = "".join(f'<tr><td class="l"><b>{_e(k)}</b></td><td class="l">{_e(v)}</td></tr>'
                   for k, v in record_rows(result, report or {}) if v)
    return f'<table class="record">{body}</table>'


def _headlines_html(result: dict, clock: "_Clock") -> str:
    heads = result.get("headlines") or []
    if not heads:
        return ("<h2>Headline measures</h2><p>No expression moved beyond the measurement noise; "
                "see the rest and the time series below.</p>")
    rows = []
    for h in heads:
        right, left = (_with_ci(h[k]["value"], h[k]["ci95"]) for k in ("right", "left"))
        # no symmetry: neither side moved beyond its noise threshold, so no side is weaker either
        weaker = "&ndash;" if h["symmetry_pct"] is None else _e(h["weaker"] or "none")
        symmetry = _e(h["not_measurable"]) if h.get("not_measurable") else _with_ci(h["symmetry_pct"],
                                                                                 h.get("symmetry_ci95"), 0)
        rows.append(f'<tr><td class="l"><b>{_e(h["label"])}</b></td><td class="l">{_e(h["unit"])}</td>'
                    f'<td class="r">{right}</td><td class="lft">{left}</td>'
                    f'<td><b>{symmetry}</b></td><td class="l">{weaker}</td>'
                    f'<td class="l">no. {h["segment"] + 1}, peak {clock(h["peak_s"])}</td></tr>')
    head = ('<tr><th class="l">movement</th><th class="l">unit</th><th>patient right (95 % interval)</th>'
            '<th>patient left</th><th>symmetry %</th><th class="l">weaker side</th><th class="l">segment</th></tr>')
    closure = next((h.get("eye_closure") for h in heads if h.get("eye_closure")), None)
    return _keep("<h2>Headline measures</h2><p class='sub'>One measure per region, in the segment where it "
                 "moved most: brow raise = brow height, eye closure = palpebral fissure, smile = excursion of the "
                 f"mouth corner from its rest position. Change from rest on the plateau of the movement. {SIGN_NOTE}</p>",
                 f"<table class='head'>{head}{''.join(rows)}</table>", _closure_text(closure))


def _provenance_html(result: dict, report: dict | None) -> str:
    r = report or {}
    # names only, never folders: a printed page or a shared file must not carry the clinic's paths
    basics = {"landmarks": file_name(result.get("source", {}).get("landmarks_csv")) or None,
              "input video": input_video_text(r) or None,
              "backend": r.get("backend"), "landmark points": result["mode"], "scale": result["scale"]["basis"],
              "display midline (videos)": r.get("midline_method_used"),
              "measuring midline": "bisector of the eyes in a face frame fitted in every frame (not the display "
                                   "midline)"}
    out = ["<h2>Models and settings</h2>", _kv_table({k: v for k, v in basics.items() if v is not None})]
    if r.get("models"):
        models = {k: (f"{v.get('file')} (sha256 {str(v.get('sha256'))[:12]}...)" if isinstance(v, dict) else v)
                  for k, v in r["models"].items()}
        out.append("<h3>models</h3>" + _kv_table(models))
    if r.get("settings"):
        # the chosen midline method is only what was asked for; the method used is shown above
        settings = {k: v for k, v in r["settings"].items() if k not in ("midline", "patient", "visit")}
        out.append("<h3>settings</h3>" + _kv_table(settings))
    out.append("<h3>measures</h3>" + _kv_table(result["settings"]))
    return "".join(out)


def render_summary(track: LandmarkTrack, table: MeasureTable, analysis: Analysis, result: dict,
                   report: dict | None = None,
                   frame_provider: Callable[[list[float]], list] | None = None) -> str:
    """The complete HTML document."""
    csv_name = result.get("source", {}).get("landmarks_csv") or "landmarks"
    name = Path(csv_name).name.removesuffix("_landmarks.csv")
    rest = result["rest"]
    clock = _Clock(track, report)
    head = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f"<title>{_e(name)} &ndash; FaceMirror summary</title><style>{CSS}{_page_css(result, name)}</style>"
            "</head><body>")
    body = [f"<h1>FaceMirror symmetry summary</h1><div class='sub'>{_e(name)}</div>",
            _record_html(result, report), _verdict_html(report), _warnings_html(result, report),
            f"<p>Rest: {clock(rest['start_s'])} &ndash; {clock(rest['end_s'])} ({_e(rest['source'])}). "
            f"{len(result['segments'])} expression segment(s); values in grey: neither side moved beyond its "
            "threshold. "
            "Patient's right = image left of the unmirrored video. Times are the player's clock"
            + (f" (the recording's first frame is at {_mmss(clock.start_s)})" if clock.start_s else "")
            + "; frames are numbered from 0 as in the landmarks CSV.</p>",
            # a guided exam leads with its task table and the resting measures (app.measures.task_summary)
            *((tasks_html(result), _rest_html(result, table.n_points)) if "tasks" in result else ()),
            _headlines_html(result, clock),
            _pictures_html(track, table, analysis, frame_provider, clock),
            *(() if "tasks" in result else (_rest_html(result, table.n_points),)),
            _segments_html(result, table.n_points, clock),
            _charts_html(table, analysis), _provenance_html(result, report)]
    return head + "".join(body) + "</body></html>\n"


def write_summary_pdf(path: Path, track: LandmarkTrack, table: MeasureTable, analysis: Analysis, result: dict,
                      report: dict | None = None,
                      frame_provider: Callable[[list[float]], list] | None = None) -> int:
    """NAME_summary.pdf (app.measures.summary_pdf) with this page's clock, warnings and wording."""
    from app.measures.summary_pdf import write_summary_pdf as write_pdf
    return write_pdf(path, track, table, analysis, result, report, frame_provider, **pdf_wording(track, result, report))


def pdf_wording(track: LandmarkTrack, result: dict, report: dict | None) -> dict:
    """What the PDF says as this page says it: the player's clock, the warnings, the sign note."""
    return {"clock": _Clock(track, report), "warnings": _warning_texts(result, report), "sign_note": _plain(SIGN_NOTE)}


def _plain(text: str) -> str:
    return html.unescape(text)
