"""`python main.py benchmark cluster`: videos per hour through `process --ray` on this machine with
1 and 2 Ray workers, and what Ray costs per video, against the same video processed plainly.

The same synthetic 10 s recording (benchmark make-video: a portrait moving like a head, H.264 +
AAC) is hard-linked under N names. For each worker count a private local Ray is started (loopback,
no dashboard) with that many CPUs and every video is submitted at once as one task of 1 CPU, each
running app.cluster.ray_task.run_video exactly as `process --ray` does (models by path and sha256,
cleanup, publish). Printed per worker count:

* wall time from the first submit to the last result (Ray start-up reported apart: once per study);
* videos per hour = N / wall;
* the pipeline's own time per video inside the task (Pipeline.process);
* scheduling overhead per video, warm = (last result - first result - the pipeline time of tasks
  2..N) / (N - 1) with 1 worker (tasks run one after another, so whatever is not the pipeline is
  overhead: dispatch, the task's cleanup and checks, result transfer), as a share of the
  pipeline time of a video; and the first video's start-up (worker process, imports, models).

Plain references: the same video through Pipeline.process in this process with 1 thread, and with
2 threads (the plain CLI's default here: one per core).
"""
from __future__ import annotations

import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace


def _plain_seconds(video: Path, out_dir: Path, threads: int) -> float:
    from app.engine.model_set import Models
    from app.pipeline.run import Pipeline, Settings

    models = Models.load(threads=threads)
    t0 = time.perf_counter()
    result = Pipeline(models, Settings()).process(video, out_dir)
    if not result.ok:
        raise SystemExit(f"the benchmark video failed: {result.error}")
    return time.perf_counter() - t0


def _ray_round(ray, workers: int, cpus: int, videos: list[Path], out_dir: Path, spec: dict) -> dict:
    from app.cluster.ray_runner import start_local, worker_env
    from app.cluster.ray_task import run_video

    spec = {**spec, "threads": cpus}
    t0 = time.perf_counter()
    start_local(ray, num_cpus=workers * cpus)
    init_s = time.perf_counter() - t0
    try:
        remote = ray.remote(run_video).options(num_cpus=cpus, max_retries=0, runtime_env={"env_vars": worker_env(cpus)})
        t_submit = time.perf_counter()
        pending = [remote.remote(str(v), str(out_dir), spec) for v in videos]
        received: list[tuple[float, dict]] = []
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            received.append((time.perf_counter(), ray.get(ready[0])))
    finally:
        ray.shutdown()
    bad = [v for _, v in received if v.get("status") != "done"]
    if bad:
        raise SystemExit(f"a benchmark task failed: {bad[0]}")
    wall = received[-1][0] - t_submit
    process_s = [v["process_s"] for _, v in received]
    out = {"workers": workers, "init_s": init_s, "wall_s": wall, "videos_per_hour": len(videos) / wall * 3600,
           "process_s": statistics.mean(process_s), "first_result_s": received[0][0] - t_submit,
           "first_startup_s": received[0][0] - t_submit - process_s[0]}
    if workers == 1 and len(received) > 1:
        warm = received[-1][0] - received[0][0] - sum(process_s[1:])
        out["overhead_s"] = warm / (len(received) - 1)
    return out


# (workers, CPUs per task): 1 and 2 workers of 1 CPU (the --ray default), and 1 worker of 2 CPUs
CONFIGS = ((1, 1), (2, 1), (1, 2))


def benchmark_cluster(videos: int = 4, seconds: float = 10.0, size: tuple[int, int] = (1280, 720),
                      configs: tuple[tuple[int, int], ...] = CONFIGS, image: Path | None = None, out=None) -> int:
    from app.cluster.ray_runner import EXTRA_HINT, import_ray, task_spec
    from app.engine.model_set import Models
    from app.pipeline.run import Settings
    from bench.media import make_video

    out = out or sys.stdout
    ray = import_ray(None)
    if ray is None:
        print(f"error: the cluster benchmark needs Ray: {EXTRA_HINT}", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="facemirror-bench-cluster-"))
    try:
        source = make_video(tmp / "source.mp4", size, seconds, 30.0, image, out=io.StringIO())
        names = []
        for i in range(videos):
            names.append(tmp / "in" / f"video{i:03d}.mp4")
            names[-1].parent.mkdir(exist_ok=True)
            os.link(source, names[-1])
        print(f"{videos} x a {seconds:g} s {size[0]}x{size[1]} 30 fps video (H.264 + AAC), {os.cpu_count()} CPUs, "
              f"load average before: {os.getloadavg()[0]:.2f}", file=out)
        plain = {t: _plain_seconds(source, tmp / f"plain{t}", t) for t in (1, 2)}
        for t, s in plain.items():
            print(f"plain Pipeline.process, {t} thread{'s' if t > 1 else ''}: {s:6.2f} s per video = "
                  f"{3600 / s:6.0f} videos/hour", file=out)
        spec = task_spec(SimpleNamespace(models=Models.load(threads=1), settings=Settings()), cpus=1, resume=False)
        spec["settings"]["overwrite"] = True
        rows = []
        for w, c in configs:
            r = _ray_round(ray, w, c, names, tmp / f"ray{w}x{c}", spec)
            rows.append(r)
            print(f"Ray, {w} worker{'s' if w > 1 else ''} ({c} CPU{'s' if c > 1 else ''}, {c} thread{'s' if c > 1 else ''} "
                  f"each, --ray-cpus {c}): ray.init {r['init_s']:.1f} s; "
                  f"{videos} videos in {r['wall_s']:.1f} s = {r['videos_per_hour']:.0f} videos/hour; pipeline "
                  f"{r['process_s']:.2f} s per video inside the task; first result after {r['first_result_s']:.1f} s "
                  f"(start-up {r['first_startup_s']:.1f} s: worker process, imports, models)", file=out)
            if "overhead_s" in r:
                share = r["overhead_s"] / r["process_s"] * 100
                print(f"  scheduling overhead per video (warm worker): {r['overhead_s'] * 1000:.0f} ms = "
                      f"{share:.2f} % of a video's processing time (goal < 2 %)", file=out)
        print(f"load average after: {os.getloadavg()[0]:.2f} (other processes' work slows every figure alike)", file=out)
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
