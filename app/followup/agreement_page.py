"""agreement.html: the agreement tables and one Bland-Altman plot per pair of raters and item.

The plots are drawn by pingouin's ``plot_blandaltman`` on our own matplotlib figure (never
pyplot's), so the lines shown are pingouin's; the numbers in the tables come from
app/followup/agreement.py (the same computation). Targets are never named on the page: they may
identify patients, and this page is made to be shared.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from app.followup.agreement import AGREEMENT_SD, matrix
from app.followup.pages import chart, e, interval, num, page
from app.followup.ratings import FACEMIRROR, Rating

MINUS = " \u2212 "
SCALE_NOTE = ("FaceMirror's grade is a measure (e.g. symmetry in %, 100 = both sides equal). The ICC and "
              "Bland-Altman compare values on one scale: they mean something only when the clinicians' item is on "
              "the same scale (eFACE items are 0-100 with 100 = normal). For other scales (House-Brackmann 1-6, "
              "Sunnybrook composite) read the Spearman correlation.")


def _icc_cell(d: dict | None) -> str:
    if not d or d.get("value") is None:
        return "<td>&ndash;</td>"
    return f"<td>{num(d['value'], 2)}{interval(d.get('ci95'), 2)}</td>"


def _r_cell(d: dict | None) -> str:
    return f"<td>{num(d['r'], 2)}</td>" if d and d.get("r") is not None else "<td>&ndash;</td>"


def _ba_cells(d: dict | None) -> str:
    if not d:
        return "<td>&ndash;</td><td>&ndash;</td><td>&ndash;</td>"
    return (f"<td>{num(d['bias'], 2)}</td><td>{num(d['sd'], 2)}</td>"
            f"<td>{num(d['loa_low'], 2)} to {num(d['loa_high'], 2)}</td>")


def _summary_table(items: Sequence[dict]) -> str:
    head = ("<tr><th class='l'>item</th><th>targets graded by all</th><th>left out</th><th class='l'>raters</th>"
            "<th>ICC(2,1) (95 % CI)</th><th>ICC(3,1) (95 % CI)</th><th>Pearson r</th><th>Spearman &rho;</th>"
            "<th>bias</th><th>SD of differences</th><th>limits of agreement</th></tr>")
    rows = []
    for it in items:
        rows.append(f"<tr><td class='l'>{e(it['item'])}</td><td>{it['n_targets']}</td><td>{it['targets_dropped']}</td>"
                    f"<td class='l'>{e(', '.join(it['raters']))}</td>{_icc_cell(it.get('icc2_1'))}"
                    f"{_icc_cell(it.get('icc3_1'))}{_r_cell(it.get('pearson'))}{_r_cell(it.get('spearman'))}"
                    f"{_ba_cells(it.get('bland_altman'))}</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _pairs_table(item: dict) -> str:
    head = ("<tr><th class='l'>pair (difference = first &minus; second)</th><th>targets both graded</th>"
            "<th>Pearson r</th><th>Spearman &rho;</th><th>bias</th><th>SD of differences</th>"
            "<th>limits of agreement</th></tr>")
    rows = []
    for p in item["pairs"]:
        rows.append(f"<tr><td class='l'>{e(MINUS.join(p['raters']))}</td><td>{p['n_targets']}</td>"
                    f"{_r_cell(p.get('pearson'))}{_r_cell(p.get('spearman'))}{_ba_cells(p.get('bland_altman'))}</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def bland_altman_svg(x: np.ndarray, y: np.ndarray, names: Sequence[str], item: str,
                     agreement_sd: float = AGREEMENT_SD) -> str:
    """pingouin's Bland-Altman plot (mean of the two on x, first - second on y) as inline SVG."""
    import pandas as pd
    import pingouin as pg

    def draw(fig):
        ax = fig.subplots()
        pg.plot_blandaltman(pd.Series(x, name=names[0]), pd.Series(y, name=names[1]), agreement=agreement_sd,
                            ax=ax, color="#0072B2", alpha=0.8, s=16)
        ax.set_title(f"{item}: {names[0]} \u2212 {names[1]} (n = {len(x)})", fontsize=8)
        ax.grid(alpha=0.3, lw=0.5)

    return chart(draw, width_in=4.6, height_in=3.3, salt=f"ba-{item}-{names[0]}-{names[1]}")


def _plots(ratings: Sequence[Rating], item: dict, agreement_sd: float) -> str:
    _, raters, m = matrix(ratings, item["item"])
    figs = []
    for p in item["pairs"]:
        if "bland_altman" not in p:
            continue
        a, b = raters.index(p["raters"][0]), raters.index(p["raters"][1])
        both = ~np.isnan(m[:, a]) & ~np.isnan(m[:, b])
        svg = bland_altman_svg(m[both, a], m[both, b], p["raters"], item["item"], agreement_sd)
        figs.append(f"<figure>{svg}<figcaption>solid line: bias; dashed: bias &plusmn; {agreement_sd:g} SD; "
                    "shaded: their 95 % intervals</figcaption></figure>")
    return f"<div class='pics'>{''.join(figs)}</div>" if figs else ""


def render(items: Sequence[dict], ratings: Sequence[Rating], *, sources: dict, notes: Sequence[str], created: str,
           agreement_sd: float = AGREEMENT_SD) -> str:
    body = ["<h1>Agreement with clinicians' grades</h1>",
            f"<div class='sub'>grades: {e(sources.get('ratings'))}"
            + (f"; FaceMirror's measures: {e(sources['study'])}" if sources.get("study") else "") + "</div>"]
    body += [f"<div class='note'>{e(n)}</div>" for n in notes]
    if any(FACEMIRROR in it["raters"] for it in items):
        body.append(f"<div class='warn'>{e(SCALE_NOTE)}</div>")
    body.append("<p>ICC(2,1): two-way random effects, absolute agreement, one rater; ICC(3,1): two-way mixed, "
                "consistency, one rater (Shrout &amp; Fleiss 1979; computed by pingouin). Only targets graded by "
                f"every rater enter the ICC. Bland-Altman: bias = mean difference, limits = bias &plusmn; "
                f"{agreement_sd:g} SD of the differences. Correlations and Bland-Altman in the summary are given "
                "when an item has exactly two raters; the per-item tables give them for every pair.</p>")
    body.append("<h2>Summary</h2>" + _summary_table(items))
    for it in items:
        body.append(f"<h2>{e(it['item'])}</h2>")
        if it.get("message"):
            body.append(f"<div class='warn'>{e(it['message'])}</div>")
        if it["targets_dropped"]:
            body.append(f"<p class='sub'>{it['targets_dropped']} of {it['targets_graded']} targets were not graded "
                        "by every rater and are left out of the ICC.</p>")
        if it["pairs"]:
            body.append(_pairs_table(it))
            body.append(_plots(ratings, it, agreement_sd))
    return page("FaceMirror agreement", body, created)
