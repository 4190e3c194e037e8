"""NAME_summary.pdf: the summary as clinics file it, A4 pages written by matplotlib's PDF backend.

A browser prints the HTML summary with its own header and footer (Chrome puts the file's full
path there) and only some browsers print page-margin boxes; this file carries the record on
every page whatever opens it: patient, visit, the recording's name and sha256 prefix, "page n of
m". It holds what the HTML holds, minus interaction: the record, verdict, warnings, headline
measures, rest and peak pictures, resting symmetry, each expression segment, the right-vs-left
charts, models and settings. No local path is written anywhere (file names only).

Layout: blocks of known height are placed top to bottom and a block that does not fit starts a
new page, so a heading always stays with what follows it. Charts are drawn by the same code as
the HTML's (figures.draw_region_chart) and placed as 200 dpi pictures.
"""
from __future__ import annotations

import base64
import io
import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from app.measures.analysis import Analysis
from app.measures.definitions import ASSUMED_IPD_MM, MEASURE_BY_NAME, measures_for, regions_for
from app.measures.figures import LEFT_COLOUR, LEVEL_COLOUR, PLOT_MEASURES, PLOT_MEASURES_5, RIGHT_COLOUR, _matplotlib, \
    draw_region_chart, pictures
from app.measures.io import LandmarkTrack, MeasureTable
from app.results.verdict import GOOD

PAGE_W, PAGE_H = 8.27, 11.69                   # A4, inches
LEFT, RIGHT, TOP, BOTTOM = 0.6, 0.6, 0.75, 0.7   # margins; header and footer sit inside them
BODY_W = PAGE_W - LEFT - RIGHT
LINE = 0.165                                   # one line of 8 pt text
CHARS_PER_LINE = 118                           # 8 pt text across BODY_W
CHART_DPI = 170


@dataclass
class Block:
    height: float                                   # inches
    draw: Callable[[object, float], None]           # (page figure, top in inches from the page's top)


def _y(top_in: float) -> float:
    return 1.0 - top_in / PAGE_H


def _x(left_in: float) -> float:
    return left_in / PAGE_W


def _num(x, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{digits}f}"


def _with_ci(value, ci, digits: int = 1) -> str:
    shown = _num(value, digits)
    if value is not None and ci and all(v is not None and math.isfinite(v) for v in ci):
        shown += f" ({ci[0]:.{digits}f} to {ci[1]:.{digits}f})"
    return shown


def _wrap(text: str, chars: int = CHARS_PER_LINE) -> list[str]:
    return textwrap.wrap(text, chars) or [""]


# ---- blocks -----------------------------------------------------------------------------------

def _text(lines: list[str], size: float = 8, weight: str = "normal", colour: str = "#222",
          indent: float = 0.0) -> Block:
    step = LINE * size / 8

    def draw(fig, top: float) -> None:
        for i, line in enumerate(lines):
            fig.text(_x(LEFT + indent), _y(top + (i + 0.8) * step), line, fontsize=size, weight=weight,
                     color=colour, va="baseline")
    return Block(len(lines) * step + 0.04, draw)


def _paragraph(text: str, **kw) -> Block:
    return _text(_wrap(text, int(CHARS_PER_LINE * 8 / kw.get("size", 8))), **kw)


def _heading(text: str, size: float = 11) -> Block:
    def draw(fig, top: float) -> None:
        fig.text(_x(LEFT), _y(top + 0.24), text, fontsize=size, weight="bold", color="#111", va="baseline")
        line_y = _y(top + 0.30)
        fig.add_artist(_line(fig, line_y))
    return Block(0.36, draw)


def _line(fig, y: float):
    from matplotlib.lines import Line2D
    return Line2D([_x(LEFT), _x(PAGE_W - RIGHT)], [y, y], color="#bbbbbb", lw=0.6, transform=fig.transFigure)


def _table(header: list[str], rows: list[list[str]], widths: list[float], colours: list[str | None] | None = None,
           greyed: list[bool] | None = None, size: float = 7.5) -> Block:
    """A plain table; cells wrap within their column; ``widths`` are fractions of the body width."""
    chars = [max(6, int(w * CHARS_PER_LINE * 8 / size * 0.92)) for w in widths]
    headed = any(header)          # a two-column record needs no header row
    wrapped = [[_wrap(str(c), n) for c, n in zip(r, chars)] for r in ([header] if headed else []) + rows]
    heights = [max(len(c) for c in r) for r in wrapped]
    step = LINE * size / 8
    colours = colours or [None] * len(widths)
    greyed = greyed or [False] * len(rows)

    def draw(fig, top: float) -> None:
        y = top
        for k, (cells, h) in enumerate(zip(wrapped, heights)):
            r = k if headed else k + 1          # r == 0: the header row
            x = LEFT
            for c, (lines, w) in enumerate(zip(cells, widths)):
                colour = "#999999" if r and greyed[r - 1] else (colours[c] if r and colours[c] else "#222")
                for i, line in enumerate(lines):
                    fig.text(_x(x + 0.03), _y(y + (i + 0.8) * step), line, fontsize=size, color=colour,
                             weight="bold" if r == 0 else "normal", va="baseline")
                x += w * BODY_W
            y += h * step + 0.03
            fig.add_artist(_line(fig, _y(y - 0.015)))
    return Block(sum(h * step + 0.03 for h in heights) + 0.06, draw)


def _image(rgb: np.ndarray, width_in: float, caption: str = "") -> Block:
    h_in = width_in * rgb.shape[0] / rgb.shape[1]

    def draw(fig, top: float) -> None:
        ax = fig.add_axes((_x(LEFT), _y(top + h_in), width_in / PAGE_W, h_in / PAGE_H))
        ax.imshow(rgb, interpolation="none")      # vector output: embedded as is, not resampled to 72 dpi
        ax.axis("off")
        if caption:
            fig.text(_x(LEFT), _y(top + h_in + 0.15), caption, fontsize=7, color="#444", va="baseline")
    return Block(h_in + (0.22 if caption else 0.05), draw)


def _row_of_images(images: list[tuple[np.ndarray, str]], per_row: int = 3) -> list[Block]:
    width = (BODY_W - 0.2 * (per_row - 1)) / per_row
    blocks = []
    for start in range(0, len(images), per_row):
        chunk = images[start:start + per_row]
        heights = [width * im.shape[0] / im.shape[1] for im, _ in chunk]
        h_in = max(heights)

        def draw(fig, top: float, chunk=chunk, heights=heights, h_in=h_in) -> None:
            for k, ((im, cap), h) in enumerate(zip(chunk, heights)):
                left = LEFT + k * (width + 0.2)
                ax = fig.add_axes((_x(left), _y(top + h), width / PAGE_W, h / PAGE_H))
                ax.imshow(im, interpolation="none")
                ax.axis("off")
                fig.text(_x(left), _y(top + h_in + 0.15), cap, fontsize=7, color="#444", va="baseline")
        blocks.append(Block(h_in + 0.25, draw))
    return blocks


def _keep(*blocks: Block) -> Block:
    """Blocks placed together (a heading with the first thing under it)."""
    def draw(fig, top: float) -> None:
        for b in blocks:
            b.draw(fig, top)
            top += b.height
    return Block(sum(b.height for b in blocks), draw)


# ---- content ----------------------------------------------------------------------------------

def _decode(uri: str) -> np.ndarray | None:
    if not uri or "," not in uri:
        return None
    data = np.frombuffer(base64.b64decode(uri.split(",", 1)[1]), np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return None if img is None else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _chart_image(table: MeasureTable, analysis: Analysis, region: str) -> np.ndarray:
    matplotlib, Figure, _svg = _matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    names = (PLOT_MEASURES_5 if table.n_points == 5 else PLOT_MEASURES).get(region, [])
    with matplotlib.rc_context({"font.size": 7}):
        fig = Figure(figsize=(BODY_W, 0.7 + 1.3 * len(names)), dpi=CHART_DPI, layout="constrained")
        draw_region_chart(fig, table, analysis, region)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def _record(result: dict, report: dict | None) -> list[Block]:
    rows = record_rows(result, report or {})
    return [_text(["FaceMirror symmetry summary"], size=15, weight="bold"),
            _table(["", ""], [row for row in rows if row[1]], [0.2, 0.8])]


def model_lines(report: dict) -> list[str]:
    """"KIND: FILE (sha256 PREFIX)" for each model of a report (the HTML and the PDF record)."""
    return [f"{kind}: {file_name(v.get('file'))} (sha256 {str(v.get('sha256'))[:12]})"
            for kind, v in (report.get("models") or {}).items() if isinstance(v, dict)]


def record_rows(result: dict, r: dict) -> list[list[str]]:
    """What the record is about as (label, text) rows, "" where nothing is known: the one source of
    the record table at the head of the HTML and the PDF (each leaves the empty rows out)."""
    rec, subj = result.get("recording") or {}, result.get("subject") or {}
    sha = rec.get("sha256")
    when = rec.get("recorded_at")
    models = model_lines(r)
    return [["recording", rec.get("file") or "(the landmarks file only)"],
            ["recording sha256", f"{sha[:16]}..." if sha else "not known"],
            ["recorded", f"{when} ({rec.get('recorded_at_source')})" if when else "not known"],
            ["patient", subj.get("patient") or "not given"], ["visit", subj.get("visit") or "not given"],
            ["analysed", str(result.get("analysed_at") or "")],
            ["FaceMirror", " ".join(str(v) for v in (r.get("app") or {}).values())],
            ["models", "; ".join(models)], ["landmarks", str(result.get("mode") or "")]]


def _verdict(report: dict | None) -> list[Block]:
    verdict = (report or {}).get("verdict")
    if not verdict:
        return []
    if not isinstance(verdict, dict):
        return [_keep(_heading("Verdict"), _paragraph(str(verdict)))]
    level = str(verdict.get("level", ""))
    blocks = [_heading("Verdict"),
              _text([level if level == GOOD else level.upper()], size=10, weight="bold",
                    colour=LEVEL_COLOUR.get(level, "#333"))]
    blocks += [_paragraph(f"- {x}", indent=0.1) for x in verdict.get("reasons") or []]
    notes = verdict.get("notes") or []
    if notes:
        blocks.append(_text(["Notes:"], colour="#666"))
        blocks += [_paragraph(f"- {x}", indent=0.1) for x in notes]
    return [_keep(*blocks)]


def _headlines(result: dict, clock, sign_note: str) -> list[Block]:
    heads = result.get("headlines") or []
    intro = _paragraph("One measure per region, in the segment where it moved most: brow raise = brow height, eye "
                       "closure = palpebral fissure, smile = excursion of the mouth corner from its rest position. "
                       "Change from rest on the plateau of the movement. " + sign_note, colour="#555")
    if not heads:
        return [_keep(_heading("Headline measures"),
                      _paragraph("No expression moved beyond the measurement noise; see the rest and the charts."))]
    rows = []
    for h in heads:
        weaker = "-" if h["symmetry_pct"] is None else (h["weaker"] or "none")
        rows.append([h["label"], h["unit"], _with_ci(h["right"]["value"], h["right"]["ci95"]),
                     _with_ci(h["left"]["value"], h["left"]["ci95"]),
                     _with_ci(h["symmetry_pct"], h.get("symmetry_ci95"), 0), weaker,
                     f"no. {h['segment'] + 1}, peak {clock(h['peak_s'])}"])
    table = _table(["movement", "unit", "patient right (95 % interval)", "patient left", "symmetry %",
                    "weaker side", "segment"], rows, [0.14, 0.06, 0.2, 0.2, 0.14, 0.09, 0.17],
                   colours=[None, None, RIGHT_COLOUR, LEFT_COLOUR, None, None, None])
    return [_keep(_heading("Headline measures"), intro, table)]


def _tasks(result: dict) -> list[Block]:
    """The guided exam's task table (words shared with the HTML: app.measures.task_summary)."""
    from app.measures import task_summary as ts

    table = _table(ts.HEADER, ts.task_rows(result), [0.12, 0.09, 0.17, 0.12, 0.12, 0.12, 0.07, 0.19],
                   colours=[None, None, None, RIGHT_COLOUR, LEFT_COLOUR, None, None, None], size=6.5)
    blocks = [_keep(_heading(f"Tasks (guided exam: {(result.get('protocol') or {}).get('name', '')})"),
                    _paragraph(ts.INTRO, colour="#555"), table)]
    if (sentence := ts.closure_comparison(result)):
        blocks.append(_paragraph(sentence))
    lines = ts.untasked_lines(result) or ["None: every movement fell inside a task."]
    blocks.append(_keep(_heading(ts.UNTASKED_TITLE, size=9.5), *[_paragraph(x) for x in lines]))
    return blocks


def _segment_table(seg: dict, names: list[str]) -> Block:
    rows, greyed = [], []
    for name in names:
        m, d = MEASURE_BY_NAME[name], seg["measures"][name]

        def shown(value, ci=None, m=m):
            return _with_ci(m.to_display(value) if value is not None else None,
                            [m.to_display(v) if v is not None else None for v in ci] if ci else None)
        weaker = d["weaker"] or ("-" if d["symmetry_pct"] is None else "none")
        rows.append([f"{m.label} ({m.display_unit})", shown(d["right"], d.get("right_ci95")),
                     shown(d["left"], d.get("left_ci95")), _with_ci(d["symmetry_pct"], d.get("symmetry_ci95"), 0),
                     weaker, _num(d["onset_lag_ms"], 0)])
        greyed.append(d["symmetry_pct"] is None)
    return _table(["change from rest (95 % interval)", "patient right", "patient left", "symmetry %", "weaker",
                   "onset lag ms (R-L)"], rows, [0.28, 0.19, 0.19, 0.14, 0.08, 0.12],
                  colours=[None, RIGHT_COLOUR, LEFT_COLOUR, None, None, None], greyed=greyed)


def segment_measure_names(seg: dict, n_points: int) -> tuple[list[str], list[str]]:
    """The sided measures of a segment's own region, then all the others: the two tables each
    segment has in the HTML and the PDF summary."""
    sided = [m for m in measures_for(n_points) if m.sided]
    return [m.name for m in sided if m.region == seg["region"]], [m.name for m in sided if m.region != seg["region"]]


def _segments(result: dict, n_points: int, clock, sign_note: str) -> list[Block]:
    if not result["segments"]:
        return [_keep(_heading("Expression segments"),
                      _paragraph("No expression was found: the face stayed near its rest position."))]
    intro = _paragraph(f"Change from rest on the expression's plateau (median) per side, with 95 % intervals; lengths "
                       f"in mm assuming an interpupillary distance of {ASSUMED_IPD_MM:g} mm. {sign_note} Symmetry = "
                       "100 x smaller / larger; a weaker side is named only when the interval excludes equal "
                       "movement; grey rows: neither side moved beyond its threshold.", colour="#555")
    blocks: list[Block] = []
    for seg in result["segments"]:
        main, others = segment_measure_names(seg, n_points)
        title = _text([f"{seg['index'] + 1}. {seg['region']}   {clock(seg['start_s'])} - {clock(seg['end_s'])}, "
                       f"peak {clock(seg['peak_s'])}"], size=9.5, weight="bold")
        first = [_heading("Expression segments"), intro] if not blocks else []
        blocks.append(_keep(*first, title, _segment_table(seg, main)))
        if others:
            blocks.append(_keep(_text(["Other measures in this segment"], colour="#555"), _segment_table(seg, others)))
    return blocks


REST_NOTE = ("Median over the rest window; heights are above the eye line (negative = below it); MRD1/MRD2 = "
             "pupil to upper/lower lid. The right \u2212 left column is the resting asymmetry (positive: the patient's "
             "right is larger or higher), with its 95 % interval in parentheses: an interval that holds 0 "
             "shows no resting asymmetry beyond the landmark noise.")


def rest_rows(result: dict) -> list[tuple[str, float | None, float | None, float | None, list | None]]:
    """(label with unit, right, left, right - left, its 95 % interval) of every sided measure at
    rest, in display units; the one source of the resting-symmetry table of the HTML and the PDF."""
    rows = []
    for name, d in result["rest"]["values"].items():
        m = MEASURE_BY_NAME[name]
        if not m.sided or m.from_rest:
            continue
        key = "_mm" if m.mm_unit else ""
        rows.append((f"{m.label} ({m.display_unit})", d["right" + key], d["left" + key], d["difference" + key],
                     d.get(f"difference{key}_ci95")))
    return rows


def _rest(result: dict) -> list[Block]:
    rows = [[label, _num(r), _num(lf), _with_ci(diff, ci)] for label, r, lf, diff, ci in rest_rows(result)]
    return [_keep(_heading("Rest: resting symmetry"), _paragraph(REST_NOTE, colour="#555"),
                  _table(["at rest", "patient right", "patient left", "right \u2212 left"], rows, [0.4, 0.2, 0.2, 0.2],
                         colours=[None, RIGHT_COLOUR, LEFT_COLOUR, None]))]


def file_name(path) -> str:
    """The last part of a path written on any system (a report made on Windows read on a Mac):
    the summaries name files, never the folders they are in."""
    return str(path or "").replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def _provenance(result: dict, report: dict | None) -> list[Block]:
    rows = _provenance_rows(result, report or {}) + _model_and_setting_rows(result, report or {})
    return [_keep(_heading("Models and settings"), _table(["", ""], [x for x in rows if x[1]], [0.3, 0.7]))]


def input_video_text(r: dict) -> str:
    """The run report's input video by name, with its sha256 prefix when known ("" when none):
    as the HTML and the PDF summary name it."""
    inp = r.get("input") or {}
    video, sha = file_name(inp.get("file")), inp.get("sha256")
    return f"{video} (sha256 {str(sha)[:12]}...)" if video and sha else video


def _provenance_rows(result: dict, r: dict) -> list[list[str]]:
    rows = [["landmarks", file_name(result.get("source", {}).get("landmarks_csv"))],
            ["input video", input_video_text(r)],
            ["backend", str(r.get("backend") or "")], ["landmark points", str(result.get("mode") or "")],
            ["scale", str((result.get("scale") or {}).get("basis") or "")],
            ["display midline (videos)", str(r.get("midline_method_used") or "")],
            ["measuring midline", "bisector of the eyes in a face frame fitted in every frame"]]
    return rows


def _model_and_setting_rows(result: dict, r: dict) -> list[list[str]]:
    rows = [[f"model: {k}", f"{file_name(v.get('file'))} (sha256 {str(v.get('sha256'))[:12]}...)"]
             for k, v in (r.get("models") or {}).items() if isinstance(v, dict)]
    rows += [[f"setting: {k}", str(v)] for k, v in (r.get("settings") or {}).items()
             if k not in ("midline", "patient", "visit")]
    rows += [[f"measures: {k}", str(v)] for k, v in (result.get("settings") or {}).items()]
    return rows


# ---- pages ------------------------------------------------------------------------------------

def paginate(blocks: list[Block]) -> list[list[tuple[Block, float]]]:
    """Blocks with their top on each page; a block taller than a page gets a page of its own."""
    room = PAGE_H - TOP - BOTTOM
    pages: list[list[tuple[Block, float]]] = [[]]
    y = 0.0
    for b in blocks:
        if y > 0 and y + b.height > room:
            pages.append([])
            y = 0.0
        pages[-1].append((b, TOP + y))
        y += b.height + 0.12
    return pages


def _furniture(fig, result: dict, name: str, page: int, pages: int) -> None:
    """Header and footer of every page: who, what, page n of m."""
    rec, subj = result.get("recording") or {}, result.get("subject") or {}
    grey = {"fontsize": 7.5, "color": "#444"}
    fig.text(_x(LEFT), _y(0.45), f"Patient {subj.get('patient') or 'not given'}  \u00b7  Visit "
                                 f"{subj.get('visit') or 'not given'}", **grey)
    fig.text(_x(PAGE_W - RIGHT), _y(0.45), "FaceMirror symmetry summary", ha="right", **grey)
    what = (rec.get("file") or name) + (f"  \u00b7  sha256 {rec['sha256'][:12]}" if rec.get("sha256") else "")
    fig.text(_x(LEFT), _y(PAGE_H - 0.4), what, **grey)
    fig.text(_x(PAGE_W - RIGHT), _y(PAGE_H - 0.4), f"page {page} of {pages}", ha="right", **grey)


def _frame_pictures(track: LandmarkTrack, table: MeasureTable, analysis: Analysis, frame_provider,
                    clock) -> list[Block]:
    rest_mid = (analysis.rest[0] + analysis.rest[1] - 1) // 2
    idx = [rest_mid] + [s.peak for s in analysis.segments]
    captions = ["rest"] + [f"{i + 1}. {s.region} peak" for i, s in enumerate(analysis.segments)]
    images = [(im, f"{cap} ({clock(float(track.times_ms[i]) / 1000)})")
              for uri, cap, i in zip(pictures(track, table, idx, frame_provider), captions, idx)
              if (im := _decode(uri)) is not None]
    if not images:
        return []
    rows = _row_of_images(images)
    return [_keep(_heading("Rest and peak frames"), rows[0])] + rows[1:]


def _charts(table: MeasureTable, analysis: Analysis) -> list[Block]:
    blocks: list[Block] = []
    plots = PLOT_MEASURES_5 if table.n_points == 5 else PLOT_MEASURES
    charts = [r for r in regions_for(table.n_points) if plots.get(r)]
    for k, region in enumerate(charts):
        first = [_heading("Right vs left over time"),
                 _paragraph("Blue: patient right; orange: patient left. Grey band: rest; coloured bands: expression "
                            "segments (strong: this region).", colour="#555")] if k == 0 else []
        blocks.append(_keep(*first, _text([region], size=9.5, weight="bold"),
                            _image(_chart_image(table, analysis, region), BODY_W)))
    return blocks


def build_pages(track: LandmarkTrack, table: MeasureTable, analysis: Analysis, result: dict,
                report: dict | None = None, frame_provider=None, *, clock=None, warnings: Sequence[str] = (),
                sign_note: str = "") -> list:
    """The pages as matplotlib Figures. ``clock`` formats a time as the player shows it."""
    matplotlib, Figure, _svg = _matplotlib()
    clock = clock or (lambda s: f"{s:.1f} s")
    csv_name = file_name(result.get("source", {}).get("landmarks_csv")) or "landmarks"
    name = csv_name.removesuffix("_landmarks.csv")
    rest = result["rest"]
    blocks: list[Block] = _record(result, report) + _verdict(report)
    blocks += [_paragraph(w, colour="#8a4b00") for w in warnings]
    blocks.append(_paragraph(f"Rest: {clock(rest['start_s'])} - {clock(rest['end_s'])} ({rest['source']}). "
                             f"{len(result['segments'])} expression segment(s). Patient's right = image left of the "
                             "unmirrored video. Times are the player's clock; frames are numbered from 0 as in the "
                             "landmarks CSV."))
    if "tasks" in result:      # a guided exam leads with its task table and the resting measures
        blocks += _tasks(result) + _rest(result)
    blocks += _headlines(result, clock, sign_note)
    blocks += _frame_pictures(track, table, analysis, frame_provider, clock)
    if "tasks" not in result:
        blocks += _rest(result)
    blocks += _segments(result, table.n_points, clock, sign_note)
    blocks += _charts(table, analysis)
    blocks += _provenance(result, report)

    placed_pages = paginate(blocks)
    figures = []
    with matplotlib.rc_context({"font.size": 8}):
        for n, placed in enumerate(placed_pages, 1):
            fig = Figure(figsize=(PAGE_W, PAGE_H))
            for block, top in placed:
                block.draw(fig, top)
            _furniture(fig, result, name, n, len(placed_pages))
            figures.append(fig)
    return figures


def write_summary_pdf(path: Path, *args, **kwargs) -> int:
    """Write the pages of :func:`build_pages` (same arguments) as one PDF; returns the page count."""
    matplotlib, _Figure, _svg = _matplotlib()
    from matplotlib.backends.backend_pdf import PdfPages

    figures = build_pages(*args, **kwargs)
    buffer = io.BytesIO()
    # TrueType fonts embedded (selectable, searchable text); no creation date, so the same
    # measures give the same file
    with matplotlib.rc_context({"pdf.fonttype": 42}):
        with PdfPages(buffer, metadata={"Title": "FaceMirror symmetry summary", "Creator": "FaceMirror",
                                        "Producer": "FaceMirror", "CreationDate": None}) as pdf:
            for fig in figures:
                pdf.savefig(fig)
    Path(path).write_bytes(buffer.getvalue())
    return len(figures)
