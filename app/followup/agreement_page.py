"""agreement.html: the agreement tables and a Bland-Altman plot per pair of raters and item.

Up to MAX_SCATTER targets, a plot is pingouin's ``plot_blandaltman`` on our own matplotlib figure
(never pyplot's), so the lines shown are pingouin's; the numbers in the tables come from
app/followup/agreement.py (the same computation). Beyond MAX_SCATTER targets a scatter of every
point would make the page tens of megabytes and hide the crowd in ink, so the plot is a density
image (targets per cell of a 60 x 40 grid, embedded as one small raster) with the bias and limits
drawn from agreement.py's numbers. At most MAX_PLOTS plots per item (pairs with FaceMirror first,
then in the table's order); the page says how many were left out, and the table gives every pair.
Targets are never named on the page: they may identify patients, and this page is made to be shared.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from app.followup.agreement import AGREEMENT_SD, bland_altman, matrix
from app.followup.pages import chart, e, interval, num, page
from app.followup.ratings import FACEMIRROR, Rating

MINUS = " \u2212 "
MAX_SCATTER = 2000          # points drawn one by one; beyond, a density image
MAX_PLOTS = 12              # Bland-Altman plots per item (10 raters have 45 pairs)
DENSITY_BINS = (60, 40)
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
            "<th>ICC(1,1) (95 % CI)</th><th>ICC(2,1) (95 % CI)</th><th>ICC(3,1) (95 % CI)</th><th>Pearson r</th><th>Spearman &rho;</th>"
            "<th>bias</th><th>SD of differences</th><th>limits of agreement</th></tr>")
    rows = []
    for it in items:
        rows.append(f"<tr><td class='l'>{e(it['item'])}</td><td>{it['n_targets']}</td><td>{it['targets_dropped']}</td>"
                    f"<td class='l'>{e(', '.join(it['raters']))}</td>{_icc_cell(it.get('icc1_1'))}{_icc_cell(it.get('icc2_1'))}"
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
    notes = "".join(f"<p class='sub'>{e(MINUS.join(p['raters']))}: {e(p.get('note') or p.get('message'))}</p>"
                    for p in item["pairs"] if p.get("note") or p.get("message"))
    return f"<table>{head}{''.join(rows)}</table>{notes}"


def bland_altman_svg(x: np.ndarray, y: np.ndarray, names: Sequence[str], item: str,
                     agreement_sd: float = AGREEMENT_SD) -> str:
    """The Bland-Altman plot (mean of the two on x, first - second on y) as inline SVG: pingouin's
    scatter up to MAX_SCATTER targets, a density image beyond."""
    import pandas as pd
    import pingouin as pg

    def draw(fig):
        if len(x) > MAX_SCATTER:      # fixed margins: constrained layout would double the drawing time
            fig.subplots_adjust(left=0.14, right=0.97, bottom=0.13, top=0.92)
            ax = fig.subplots()
            _density(fig, ax, x, y, names, agreement_sd)
        else:
            ax = fig.subplots()
            pg.plot_blandaltman(pd.Series(x, name=names[0]), pd.Series(y, name=names[1]), agreement=agreement_sd,
                                ax=ax, color="#0072B2", alpha=0.8, s=16)
        ax.set_title(f"{item}: {names[0]} \u2212 {names[1]} (n = {len(x)})", fontsize=8)
        ax.grid(alpha=0.3, lw=0.5)

    return chart(draw, width_in=4.6, height_in=3.3, salt=f"ba-{item}-{names[0]}-{names[1]}",
                 layout="constrained" if len(x) <= MAX_SCATTER else None)


def _density(fig, ax, x: np.ndarray, y: np.ndarray, names: Sequence[str], agreement_sd: float) -> None:
    """Targets per grid cell (empty cells blank), the zero line, bias and limits of agreement."""
    mean, diff = (x + y) / 2, x - y
    counts, xe, ye = np.histogram2d(mean, diff, bins=DENSITY_BINS)
    image = ax.imshow(np.ma.masked_equal(counts.T, 0), origin="lower", extent=(xe[0], xe[-1], ye[0], ye[-1]),
                      aspect="auto", cmap="Blues", interpolation="nearest")
    fig.colorbar(image, ax=ax, label="targets per cell", fraction=0.05, pad=0.02)
    ba = bland_altman(x, y, agreement_sd)
    ax.axhline(0, color="lightgray", lw=1, zorder=0)
    ax.axhline(ba["bias"], color="k", lw=2)
    for v in (ba["loa_low"], ba["loa_high"]):
        ax.axhline(v, color="k", ls="--", lw=1.5)
    ax.set_xlabel(f"Mean of {names[0]} and {names[1]}")
    ax.set_ylabel(f"{names[0]} - {names[1]}")


def plotted_pairs(item: dict) -> list[dict]:
    """The pairs that get a plot: those with a Bland-Altman result, FaceMirror's first, at most MAX_PLOTS."""
    pairs = [p for p in item["pairs"] if "bland_altman" in p]
    pairs.sort(key=lambda p: FACEMIRROR not in p["raters"])
    return pairs[:MAX_PLOTS]


def _plots(ratings: Sequence[Rating], item: dict, agreement_sd: float) -> str:
    _, raters, m = matrix(ratings, item["item"])
    figs = []
    chosen = plotted_pairs(item)
    for p in chosen:
        a, b = raters.index(p["raters"][0]), raters.index(p["raters"][1])
        both = ~np.isnan(m[:, a]) & ~np.isnan(m[:, b])
        svg = bland_altman_svg(m[both, a], m[both, b], p["raters"], item["item"], agreement_sd)
        caption = (f"solid line: bias; dashed: bias &plusmn; {agreement_sd:g} SD; shaded: their 95 % intervals"
                   if p["n_targets"] <= MAX_SCATTER else
                   f"{p['n_targets']} targets, too many to draw one by one: the shade is the number of targets "
                   f"per cell; solid line: bias; dashed: bias &plusmn; {agreement_sd:g} SD")
        figs.append(f"<figure>{svg}<figcaption>{caption}</figcaption></figure>")
    left_out = sum("bland_altman" in p for p in item["pairs"]) - len(chosen)
    note = (f"<p class='sub'>{len(chosen)} of {len(chosen) + left_out} pairs are plotted"
            + (" (those with FaceMirror first)" if any(FACEMIRROR in p["raters"] for p in chosen) else "")
            + "; the table above gives every pair's numbers.</p>") if left_out else ""
    return note + (f"<div class='pics'>{''.join(figs)}</div>" if figs else "")


def render(items: Sequence[dict], ratings: Sequence[Rating], *, sources: dict, notes: Sequence[str], created: str,
           agreement_sd: float = AGREEMENT_SD) -> str:
    body = ["<h1>Agreement with clinicians' grades</h1>",
            f"<div class='sub'>grades: {e(sources.get('ratings'))}"
            + (f"; FaceMirror's measures: {e(sources['study'])}" if sources.get("study") else "") + "</div>"]
    body += [f"<div class='note'>{e(n)}</div>" for n in notes]
    if any(FACEMIRROR in it["raters"] for it in items):
        body.append(f"<div class='warn'>{e(SCALE_NOTE)}</div>")
    body.append("<p>ICC(1,1): one-way random effects, one rater (each target may have its own raters); "
                "ICC(2,1): two-way random effects, absolute agreement, one rater; ICC(3,1): two-way mixed, "
                "consistency, one rater (Shrout &amp; Fleiss 1979; computed by pingouin). Only targets graded by "
                f"every rater enter the ICC. Bland-Altman: bias = mean difference, limits = bias &plusmn; "
                f"{agreement_sd:g} SD of the differences. Correlations and Bland-Altman in the summary are given "
                "when an item has exactly two raters; the per-item tables give them for every pair.</p>")
    body.append("<h2>Summary</h2>" + _summary_table(items))
    for it in items:
        body.append(f"<h2>{e(it['item'])}</h2>")
        if it.get("message"):
            body.append(f"<div class='warn'>{e(it['message'])}</div>")
        body += [f"<div class='note'>{e(n)}</div>" for n in it.get("notes", [])]
        if it["targets_dropped"]:
            body.append(f"<p class='sub'>{it['targets_dropped']} of {it['targets_graded']} targets were not graded "
                        "by every rater and are left out of the ICC.</p>")
        if it["pairs"]:
            body.append(_pairs_table(it))
            body.append(_plots(ratings, it, agreement_sd))
    return page("FaceMirror agreement", body, created)
