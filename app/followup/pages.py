"""The offline page shell shared by agreement.html and compare_<patient>.html, and their charts.

Pages are one self-contained file each: no scripts, no external resources, a Content-Security-
Policy that forbids any network load, charts as inline SVG (matplotlib, configured and cleaned as
app/measures/figures.py does it), pictures as data: URIs. The print CSS lays them out on A4
with nothing cut: tables wrap inside the page width, charts and pictures scale down, and a table,
chart or picture row is never split across pages.
"""
from __future__ import annotations

import html
import math
from collections.abc import Sequence

from app import APP_NAME, __version__
from app.measures.figures import LEFT_COLOUR, RIGHT_COLOUR, _matplotlib, svg_of

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:1.4em;margin-bottom:0}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}
h3{font-size:1.02em;margin:1.1em 0 .3em 0}
.sub{color:#666;margin-top:4px}.note{background:#f3f6fa;border-left:4px solid #0072B2;padding:6px 12px;margin:6px 0}
.warn{background:#fff4e5;border-left:4px solid #E69F00;padding:6px 12px;margin:6px 0}
.bad{background:#fdecea;border-left:4px solid #c62828;padding:6px 12px;margin:6px 0}
.sentence{font-size:1.05em;margin:6px 0}.small{font-size:.85em}b.changed{color:#b35900}
table{border-collapse:collapse;font-size:.88em;margin:8px 0;max-width:100%}
td,th{border:1px solid #ddd;padding:3px 7px;text-align:right;overflow-wrap:break-word}
.ci{white-space:nowrap}
th{background:#f4f4f4}td.l,th.l{text-align:left}tr.unusable td{color:#999;background:#fafafa}
td.nu,tr.unusable td.nu{color:#c62828;font-weight:bold}
.ci{color:#666;font-size:.85em}.r{color:RIGHT}.lft{color:LEFT}
.pics{display:flex;flex-wrap:wrap;gap:10px}figure{margin:0}figcaption{font-size:.8em;color:#444}
img{max-width:100%;height:auto}svg{max-width:100%;height:auto}
@page{size:A4;margin:14mm}
@media print{body{margin:0;max-width:none;font-size:9.5pt}
table,figure,svg,.keep,section{break-inside:avoid}h2,h3{break-after:avoid}
.pics figure{max-width:48%}.pics.frames figure{max-width:23%}}
""".replace("RIGHT", RIGHT_COLOUR).replace("LEFT", LEFT_COLOUR)
MIDDLE_DOT = "\u00b7"


def e(x) -> str:
    return html.escape(str(x))


def num(x, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "&ndash;"
    return f"{x:.{digits}f}"


def interval(ci: Sequence[float] | None, digits: int = 1) -> str:
    """" (42.0-54.0)" for a 95 % interval, "" when there is none."""
    if not ci or len(ci) != 2 or any(v is None or not math.isfinite(v) for v in ci):
        return ""
    sep = " to " if min(ci) < 0 else "&ndash;"      # "-19.6--13.2" would read as one long dash
    return f" <span class='ci'>({num(ci[0], digits)}{sep}{num(ci[1], digits)})</span>"


def page(title: str, body: Sequence[str], created: str) -> str:
    """The whole document: charset, CSP, styles, the body and a footer naming the app and date."""
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{e(title)}</title><style>{CSS}</style></head><body>"
            + "".join(body)
            + f"<p class='sub'>{e(APP_NAME)} {e(__version__)} {MIDDLE_DOT} made {e(created)}</p></body></html>\n")


def chart(draw, *, width_in: float, height_in: float, salt: str, layout: str | None = "constrained") -> str:
    """Inline SVG of a figure drawn by ``draw(fig)`` (deterministic ids, text as paths). layout=None
    skips matplotlib's constrained layout (half the drawing time) for a ``draw`` that places its axes."""
    matplotlib, Figure, FigureCanvasSVG = _matplotlib()
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": f"facemirror-{salt}", "font.size": 8}):
        fig = Figure(figsize=(width_in, height_in), layout=layout)
        draw(fig)
        return svg_of(fig, FigureCanvasSVG)
