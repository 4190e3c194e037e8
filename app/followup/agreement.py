"""Agreement between raters, per item: ICC(1,1), ICC(2,1) and ICC(3,1), Pearson and Spearman,
Bland-Altman.

The statistics come from libraries, not from formulas written here: pingouin's
``intraclass_corr`` (its ``ICC(1,1)`` = Shrout & Fleiss ICC(1,1), one-way random effects, single
rater: each target graded by its own set of raters; ``ICC(A,1)`` = ICC(2,1), two-way random effects,
absolute agreement, single rater; ``ICC(C,1)`` = ICC(3,1), two-way mixed, consistency, single
rater; 95 % intervals as pingouin gives them, to 2 decimals), scipy's ``pearsonr`` / ``spearmanr``,
and for Bland-Altman the mean and sample SD (n - 1) of the differences with numpy, exactly as
pingouin's ``plot_blandaltman`` computes them: limits = bias -/+ 1.96 SD (``AGREEMENT_SD``).
Bland & Altman's 1986 paper used 2 SD; ``item_agreement(..., agreement_sd=2)`` reproduces it.

ICC needs every rater's grade for a target: targets missing a grade are left out of the ICC (and
counted); correlations and Bland-Altman use, per pair of raters, the targets both graded.
pingouin, pandas and scipy are the optional `stats` extra; they are imported inside functions.
Their warnings (a constant series, a degenerate ANOVA) never reach the terminal: every case they
warn about is said in our own words, in the item's "notes" or "message".
"""
from __future__ import annotations

import contextlib
import itertools
import math
import warnings
from collections.abc import Sequence

import numpy as np

from app.followup.ratings import FACEMIRROR, Rating

AGREEMENT_SD = 1.96
MIN_RATERS = 2
MIN_TARGETS = 3
STATS_HINT = "agreement needs the statistics extra: run pip install -e '.[stats]' (pingouin, pandas, scipy)"
# pingouin's names of the ICC forms (0.7: "ICC(A,1)"; before 0.6: "ICC2")
ICC_TYPES = {"icc1_1": ("ICC(1,1)", "ICC1"), "icc2_1": ("ICC(A,1)", "ICC2"), "icc3_1": ("ICC(C,1)", "ICC3")}
ICC_KEYS = tuple(ICC_TYPES)
ICC_LABELS = {"icc1_1": "ICC(1,1)", "icc2_1": "ICC(2,1)", "icc3_1": "ICC(3,1)"}


class StatsMissing(ImportError):
    """pingouin (or pandas/scipy) is not installed."""


def require_stats() -> None:
    try:
        import pandas  # noqa: F401
        import pingouin  # noqa: F401
        import scipy  # noqa: F401
    except ImportError as exc:
        raise StatsMissing(STATS_HINT) from exc


def _finite(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


@contextlib.contextmanager
def quiet():
    """No library warning (scipy's ConstantInputWarning, pingouin's and pandas' deprecations, numpy's
    divide-by-zero) reaches the terminal; the callers say each such case themselves."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def constant_raters(m: np.ndarray, raters: Sequence[str]) -> list[str]:
    """Raters who gave every target they graded the same grade (and graded at least two)."""
    out = []
    for j, name in enumerate(raters):
        col = m[~np.isnan(m[:, j]), j]
        if len(col) >= 2 and np.ptp(col) == 0:
            out.append(name)
    return out


def constant_note(name: str, m: np.ndarray, raters: Sequence[str]) -> str:
    col = m[:, list(raters).index(name)]
    grade = col[~np.isnan(col)][0]
    return (f"{name} gave every target the same grade ({grade:g}): a correlation with {name} is undefined "
            "(shown as '-')")


def matrix(ratings: Sequence[Rating], item: str) -> tuple[list[str], list[str], np.ndarray]:
    """(targets, raters, scores[target, rater] with NaN where a grade is missing). Raters in the
    order they first appear, FaceMirror last."""
    own = [r for r in ratings if r.item == item]
    targets = list(dict.fromkeys(r.target for r in own))
    raters = list(dict.fromkeys(r.rater for r in own))
    raters.sort(key=lambda r: r == FACEMIRROR)
    m = np.full((len(targets), len(raters)), np.nan)
    ti, ri = {t: i for i, t in enumerate(targets)}, {r: i for i, r in enumerate(raters)}
    for r in own:
        m[ti[r.target], ri[r.rater]] = r.score
    return targets, raters, m


def icc(scores: np.ndarray, raters: Sequence[str]) -> dict[str, dict]:
    """ICC(1,1), ICC(2,1) and ICC(3,1) of a complete targets x raters matrix (pingouin)."""
    import pandas as pd
    import pingouin as pg

    n, k = scores.shape
    long = pd.DataFrame({"target": np.repeat(np.arange(n), k), "rater": np.tile(np.arange(k), n),
                         "score": scores.astype(float).ravel()})
    with quiet():           # pingouin 0.7 calls pandas APIs that pandas 3 deprecates
        res = pg.intraclass_corr(data=long, targets="target", raters="rater", ratings="score")
    ci_col = next(c for c in res.columns if str(c).startswith("CI95"))
    out = {}
    for key, names in ICC_TYPES.items():
        row = res[res["Type"].isin(names)].iloc[0]
        value = _finite(row["ICC"])
        ci = [_finite(v) for v in row[ci_col]]
        out[key] = {"value": value, "ci95": ci if value is not None and None not in ci else None}
    return out


def correlations(x: np.ndarray, y: np.ndarray) -> tuple[dict | None, dict | None]:
    """(Pearson, Spearman) as {"r", "p"} (scipy); None for a constant series (undefined)."""
    from scipy import stats

    if len(x) < MIN_TARGETS or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None, None
    with quiet():
        p = stats.pearsonr(x, y)
        s = stats.spearmanr(x, y)
    return ({"r": _finite(p.statistic), "p": _finite(p.pvalue)},
            {"r": _finite(s.statistic), "p": _finite(s.pvalue)})


def bland_altman(x: np.ndarray, y: np.ndarray, agreement_sd: float = AGREEMENT_SD) -> dict:
    """Bias (mean of x - y), SD of the differences (n - 1) and the limits bias -/+ agreement_sd x SD:
    pingouin's plot_blandaltman's own computation, on the pairs both raters graded."""
    diff = np.asarray(x, float) - np.asarray(y, float)
    bias, sd = float(np.mean(diff)), float(np.std(diff, ddof=1))
    return {"bias": _finite(bias), "sd": _finite(sd), "loa_low": _finite(bias - agreement_sd * sd),
            "loa_high": _finite(bias + agreement_sd * sd), "agreement_sd": agreement_sd}


def pair_stats(m: np.ndarray, raters: Sequence[str], agreement_sd: float = AGREEMENT_SD) -> list[dict]:
    """Per pair of raters, on the targets both graded: n, correlations, Bland-Altman (first - second)."""
    out = []
    for a, b in itertools.combinations(range(len(raters)), 2):
        both = ~np.isnan(m[:, a]) & ~np.isnan(m[:, b])
        x, y = m[both, a], m[both, b]
        entry: dict = {"raters": [raters[a], raters[b]], "n_targets": int(both.sum())}
        if entry["n_targets"] < MIN_TARGETS:
            entry["message"] = (f"{raters[a]} and {raters[b]} graded only {entry['n_targets']} target(s) in common; "
                                f"at least {MIN_TARGETS} are needed")
            out.append(entry)
            continue
        entry["pearson"], entry["spearman"] = correlations(x, y)
        flat = [name for name, v in ((raters[a], x), (raters[b], y)) if np.ptp(v) == 0]
        if flat:
            entry["note"] = (" and ".join(flat) + " gave every target of this "
                             "pair the same grade: the correlations are undefined (shown as '-')")
        entry["bland_altman"] = bland_altman(x, y, agreement_sd)
        out.append(entry)
    return out


def item_agreement(ratings: Sequence[Rating], item: str, agreement_sd: float = AGREEMENT_SD) -> dict:
    """The JSON entry of one item. Never raises for thin data: "message" says what is missing."""
    targets, raters, m = matrix(ratings, item)
    complete = ~np.isnan(m).any(axis=1)
    entry: dict = {"item": item, "n_targets": int(complete.sum()), "targets_graded": len(targets),
                   "targets_dropped": int((~complete).sum()), "raters": raters,
                   **dict.fromkeys(ICC_KEYS), "pearson": None, "spearman": None, "notes": []}
    with quiet():
        return _item_agreement(entry, m, complete, agreement_sd)


def _item_agreement(entry: dict, m: np.ndarray, complete: np.ndarray, agreement_sd: float) -> dict:
    item, raters = entry["item"], entry["raters"]
    entry["notes"] = [constant_note(name, m, raters) for name in constant_raters(m, raters)]
    if len(raters) < MIN_RATERS:
        entry["message"] = (f"item '{item}': only one rater ({raters[0]}); agreement needs at least {MIN_RATERS}")
        entry["pairs"] = []
        return entry
    entry["pairs"] = pair_stats(m, raters, agreement_sd)
    if entry["n_targets"] < MIN_TARGETS:
        entry["message"] = (f"item '{item}': only {entry['n_targets']} target(s) were graded by all "
                            f"{len(raters)} raters; the ICC needs at least {MIN_TARGETS}")
        return entry
    full = m[complete]
    if np.ptp(full) == 0:
        entry["message"] = f"item '{item}': every grade is the same; the ICC is undefined"
    else:
        entry.update(icc(full, raters))
        undefined = [ICC_LABELS[k] for k in ICC_KEYS if entry[k]["value"] is None]     # icc() gives every key
        if undefined:
            entry["notes"].append(f"{', '.join(undefined)} undefined for these grades (no variance between the "
                                  "targets, or none within them): shown as '-'")
    if len(raters) == 2:    # the pair's common targets are the complete ones, enough for its Bland-Altman
        pair = entry["pairs"][0]
        entry["pearson"], entry["spearman"] = pair.get("pearson"), pair.get("spearman")
        entry["bland_altman"] = pair["bland_altman"]
    return entry


def agreement(ratings: Sequence[Rating], agreement_sd: float = AGREEMENT_SD) -> list[dict]:
    items = list(dict.fromkeys(r.item for r in ratings))
    return [item_agreement(ratings, item, agreement_sd) for item in items]
