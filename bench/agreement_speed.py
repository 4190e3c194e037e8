"""Time and memory of `main.py agreement` on a large synthetic study (source checkout only).

    python -m bench.agreement_speed [--targets 10000] [--raters 10]

Writes a long-format RATINGS.csv (every rater grades every target: a true score plus rater noise
and a rater offset) to a temporary folder, runs `main.py agreement` on it in a child process and
prints its wall time, CPU time (user + system: what the machine's load does not inflate), peak
memory (maximum resident set size) and the size of the page it wrote.
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def write_ratings(path: Path, targets: int, raters: int, seed: int = 1) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)
    truth = rng.uniform(20, 100, targets)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("target,rater,score\n")
        for j in range(raters):
            scores = truth + rng.normal(0, 5, targets) + j
            fh.writelines(f"t{t},rater {j},{scores[t]:.2f}\n" for t in range(targets))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", type=int, default=10_000)
    ap.add_argument("--raters", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ratings = Path(tmp) / "ratings.csv"
        write_ratings(ratings, args.targets, args.raters)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "main.py", "agreement", str(ratings), "--out", str(Path(tmp) / "out")],
                              cwd=REPO, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            sys.exit(f"agreement failed (exit {proc.returncode}): {proc.stderr.strip()}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        page = (Path(tmp) / "out" / "agreement.html").stat().st_size
        print(f"{args.targets} targets x {args.raters} raters ({args.targets * args.raters} grades): "
              f"wall {wall:.1f} s, CPU {cpu:.1f} s, peak memory {after.ru_maxrss / 1024:.0f} MB, "
              f"agreement.html {page / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
