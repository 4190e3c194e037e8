"""Time of the measures stage on a synthetic landmarks CSV (source checkout only).

    python -m bench.measures_speed [--minutes 5] [--fps 30]

Writes a CSV of a synthetic 98-point face (tests/synthetic_face.py) smiling every 20 s to a
temporary folder, then times reading it, the per-frame measures, the rest/segment analysis and the
HTML summary (landmark drawings, no video frames), and prints the figures.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--fps", type=float, default=30.0)
    args = ap.parse_args()

    from app.measures import build_result
    from app.measures.io import compute_table, read_landmarks_csv
    from app.measures.analysis import analyse
    from app.measures.summary import render_summary
    from tests.synthetic_face import Event, Pose, canonical_track, csv_rows, place, times, write_csv

    t = times(args.minutes * 60, args.fps)
    events = [Event("smile", 10.0 + 20 * k, 0.075, 0.15) for k in range(int(args.minutes * 3))]
    px, angle, point = place(canonical_track(t, events, noise=0.002), Pose(roll_deg=5.0))
    with tempfile.TemporaryDirectory() as tmp:
        src = write_csv(Path(tmp) / "bench_landmarks.csv", csv_rows(px, t * 1000, angle, point))
        t0 = time.perf_counter()
        track = read_landmarks_csv(src)
        t1 = time.perf_counter()
        table = compute_table(track)
        t2 = time.perf_counter()
        analysis = analyse(table)
        t3 = time.perf_counter()
        html = render_summary(track, table, analysis, build_result(track, table, analysis))
        t4 = time.perf_counter()
    print(f"{len(t)} frames ({args.minutes:g} min at {args.fps:g} fps), {len(analysis.segments)} segments")
    print(f"read CSV      {t1 - t0:6.2f} s")
    print(f"measures      {t2 - t1:6.2f} s  ({(t2 - t1) / len(t) * 1000:.2f} ms/frame)")
    print(f"analysis      {t3 - t2:6.2f} s")
    print(f"summary HTML  {t4 - t3:6.2f} s  ({len(html) / 1e6:.2f} MB)")
    print(f"total         {t4 - t0:6.2f} s")


if __name__ == "__main__":
    main()
