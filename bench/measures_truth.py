"""The symmetry measures against known-geometry truth, swept over head pose, noise and glitches
(source checkout only; the tests run a few representative seeds of the same conditions).

    python -m bench.measures_truth [--seeds 20] [--first-seed 0] [--only WORDS ...]

``--seeds`` and ``--only`` (conditions whose name contains one of the words) make a quicker
subset for iterating; ``--first-seed`` draws other recordings than the table's (seeds 0-19), to
check on fresh seeds anything chosen while looking at those; the validation table of
docs/MEASURES.md is the full run.

Every recording is the standard examination of tests/face_truth.py (a 3-D head, independent of
app/measures): smile 5 vs 10 mm (truth 50 %, weaker right), symmetric brow raise 8 mm (100 %,
weaker none), eye closure 100 % vs 60 % (60 %, weaker left). Per condition and headline it
prints the largest and mean error of the symmetry % over the seeds, how often the headline was
missing or "not measurable", how often a wrong weaker side was named, and the coverage of the
95 % interval (how often it holds the truth).
"""
from __future__ import annotations

import argparse
import math
import time

TRUTH = {"mouth": (50.0, "right"), "brow": (100.0, None), "eyes": (60.0, "left")}


def conditions() -> dict[str, dict]:
    from tests.face_truth import HeadMotion, glitch_run

    seated = dict(roll_deg=2.0, drift_px=10.0, scale=0.05)
    cam = dict(camera_mm=600.0)
    glitch_30 = (glitch_run(3.2, 1.0, 30, 44, (0.0, 12.0)) + glitch_run(5.6, 1.0, 30, 82, (8.0, -6.0))
                 + glitch_run(8.9, 1.0, 30, 62, (0.0, 6.0)))
    glitch_60 = (glitch_run(3.2, 1.0, 60, 44, (0.0, 12.0)) + glitch_run(5.6, 1.0, 60, 82, (8.0, -6.0))
                 + glitch_run(8.9, 1.0, 60, 62, (0.0, 6.0)))

    def long_runs(fps: float) -> list:      # the same three points off for 1.5 s: "not measurable" is right
        return (glitch_run(3.2, 1.5, fps, 44, (0.0, 12.0)) + glitch_run(5.6, 1.5, fps, 82, (8.0, -6.0))
                + glitch_run(8.9, 1.5, fps, 62, (0.0, 6.0)))
    return {
        "still, no noise": {},
        "seated motion, noise 0.5 mm": dict(motion=HeadMotion(**seated), noise_mm=0.5),
        "noise 0.8 mm": dict(motion=HeadMotion(**seated), noise_mm=0.8),
        "noise 1.0 mm": dict(motion=HeadMotion(**seated), noise_mm=1.0),
        "noise 1.5 mm": dict(motion=HeadMotion(**seated), noise_mm=1.5),
        "yaw sway +-4 deg, noise 0.5": dict(motion=HeadMotion(yaw_deg=4.0, **seated), noise_mm=0.5, **cam),
        "yaw held +10 deg, noise 0.5": dict(motion=HeadMotion(yaw_held_deg=10.0, **seated), noise_mm=0.5, **cam),
        "yaw held -10 deg, noise 0.5": dict(motion=HeadMotion(yaw_held_deg=-10.0, **seated), noise_mm=0.5, **cam),
        "yaw +10 deg during the smile": dict(motion=HeadMotion(turns=[(4.5, 7.2, 10.0, 0.0)], **seated),
                                             noise_mm=0.5, **cam),
        "pitch sway +-5 deg, noise 0.5": dict(motion=HeadMotion(pitch_deg=5.0, **seated), noise_mm=0.5, **cam),
        "pitch +5 deg during the smile": dict(motion=HeadMotion(turns=[(4.5, 7.2, 0.0, 5.0)], **seated),
                                              noise_mm=0.5, **cam),
        "yaw +-4 + pitch +-5, face 25 % flatter": dict(motion=HeadMotion(yaw_deg=4.0, pitch_deg=5.0, **seated),
                                                        noise_mm=0.5, depth_scale=0.75, **cam),
        "yaw +-4 + pitch +-5, face 30 % deeper": dict(motion=HeadMotion(yaw_deg=4.0, pitch_deg=5.0, **seated),
                                                       noise_mm=0.5, depth_scale=1.3, **cam),
        "glitch runs 1 s, 30 fps": dict(motion=HeadMotion(**seated), noise_mm=0.5, glitches=glitch_30),
        "glitch runs 1 s, 60 fps": dict(motion=HeadMotion(**seated), noise_mm=0.5, glitches=glitch_60, fps=60.0),
        "glitch runs 1.5 s, 30 fps": dict(motion=HeadMotion(**seated), noise_mm=0.5, glitches=long_runs(30.0)),
        "glitch runs 1.5 s, 60 fps": dict(motion=HeadMotion(**seated), noise_mm=0.5, glitches=long_runs(60.0),
                                          fps=60.0),
    }


def run_condition(kwargs: dict, seeds: range) -> dict:
    from app.measures import analyse_track
    from tests.face_truth import exam

    rows = {r: {"err": [], "missing": 0, "wrong_side": 0, "named": 0, "covered": 0, "n_ci": 0, "width": [], "not_measurable": 0} for r in TRUTH}
    for seed in seeds:
        _, _, result = analyse_track(exam(seed=seed, **kwargs).track())
        heads = {h["region"]: h for h in result["headlines"]}
        for region, (truth, side) in TRUTH.items():
            h, row = heads.get(region), rows[region]
            if h is not None and h.get("not_measurable"):
                row["not_measurable"] += 1
                continue
            if h is None or h["symmetry_pct"] is None:
                row["missing"] += 1
                continue
            row["err"].append(h["symmetry_pct"] - truth)
            row["named"] += h["weaker"] == side
            row["wrong_side"] += h["weaker"] is not None and h["weaker"] != side
            lo, hi = h["symmetry_ci95"] or (math.nan, math.nan)
            if math.isfinite(lo):
                row["n_ci"] += 1
                row["width"].append(hi - lo)
                row["covered"] += lo - 1e-9 <= truth <= hi + 1e-9
    return rows


def fmt_row(name: str, n: int, rows: dict) -> str:
    cells = []
    for region in TRUTH:
        r = rows[region]
        err = r["err"]
        worst = max(err, key=abs) if err else math.nan
        mean = sum(err) / len(err) if err else math.nan
        cov = f"{100 * r['covered'] / r['n_ci']:.0f} % ({r['covered']}/{r['n_ci']})" if r["n_ci"] else "-"
        side = f"{r['named']}/{n} {TRUTH[region][1]}" if TRUTH[region][1] else f"{n - r['wrong_side']}/{n} none"
        width = f", interval width {sum(r['width']) / len(r['width']):.0f}" if r["width"] else ""
        gone = f"{r['missing']} missing, {r['not_measurable']} not measurable"
        cells.append(f"{worst:+.1f} ({mean:+.1f}) | {side}, {r['wrong_side']} wrong, {gone} | {cov}{width}")
    return f"| {name} | {n} | " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--only", nargs="*", help="conditions whose name contains one of these words")
    args = ap.parse_args(argv)
    conds = conditions()
    if args.only:
        conds = {k: v for k, v in conds.items() if any(w in k for w in args.only)}
    print("| condition | seeds | smile: worst (mean) error, points | smile: weaker side | smile: coverage "
          "| brow: worst (mean) | brow: weaker | brow: coverage | eye closure: worst (mean) | eye: weaker "
          "| eye: coverage |")
    print("|---|---|" + "---|" * 9)
    for name, kwargs in conds.items():
        t0 = time.perf_counter()
        seeds = range(1) if not kwargs.get("noise_mm") else range(args.first_seed, args.first_seed + args.seeds)
        print(fmt_row(name, len(seeds), run_condition(kwargs, seeds)), f"<!-- {time.perf_counter() - t0:.0f} s -->",
              flush=True)


if __name__ == "__main__":
    main()
