"""`python main.py process INPUTS --out DIR --ray [ADDRESS]`: one Ray task per video.

The driver plans exactly as a plain run does (app.batch.process.prepare: models, collisions, --shard),
submits one task per video (app.cluster.ray_task.run_video; --resume is checked in the task, so
the hashing of a large study is spread over the cluster), prints each file's lines as it finishes,
with the overall count and an estimate of the time left, and ends with the plain run's summary and
exit codes (0 all done, 1 some failed, 2 usage, 130 / 143 after SIGINT / SIGTERM).

* Where outputs go: where a plain run would put them (beside each input or under --out). The
  paths are made absolute here, so every node must see the inputs, the output folder and the model
  files at the same paths (a shared file system).
* A worker killed mid-video: Ray runs the task again (--ray-retries, default 3). The dead worker's
  hidden partial files are removed by the retry before it starts (same computer) or by the next
  run writing into that folder there; nothing partial is ever published (app/base/outputs.py).
* Cancel (Ctrl-C, SIGTERM from a scheduler): queued tasks are cancelled, running ones are killed
  (Ray force-cancel), this computer's partial files of the killed tasks are removed, the summary
  is printed and the exit status is 128 + the signal.
* Privacy: a local Ray (no ADDRESS) listens on the loopback interface only, with no dashboard and
  no usage statistics; workers get app.PRIVACY_ENV (runtime_env env_vars), and FaceMirror's own
  FACEMIRROR_* settings so that they find the same logs and caches as the driver.
* CPUs: --ray-cpus per task (default 1); ONNX Runtime's intra-op threads and OpenCV's threads in
  the task are set to the same number, so N tasks on an N-core node do not oversubscribe it.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from app import PRIVACY_ENV, __version__
from app.base.wording import plural
from app.base import cancel as cancel_signals
from app.batch import process as batch
from app.batch.process import CANCELLED, DONE, FAILED, SKIPPED
from app.batch.job_queue.summary import FileRow
from app.base.outputs import clean_stale_files

EXTRA_HINT = "pip install 'facemirror[cluster]' (in a source checkout: .venv/bin/pip install -e '.[cluster]')"
DEFAULT_CPUS = 1
DEFAULT_RETRIES = 3
HEARTBEAT_S = 60.0
LOCAL = "local"
# Ray 2.60 binds a local instance to the machine's outward address (all interfaces) unless this is
# false before `import ray`; the flag (named for Windows/macOS, where it is the default) makes it use
# 127.0.0.1, so a local run is reachable from this computer only.
LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


REACH_TIMEOUT_S = 20.0     # Ray's own connect to a dead address waits for minutes and ignores Ctrl-C


class ClusterError(RuntimeError):
    """Ray could not be started or reached; the message is for the user."""


def _host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of HOST:PORT (also ray://HOST:PORT and [IPv6]:PORT); None when there is no port."""
    rest = address.split("://")[-1].rstrip("/")
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def _in_thread(work, cancel: threading.Event, deadline: float):
    """work() in a daemon thread, waiting while neither `cancel` is set nor `deadline` passed:
    (done, result or exception). A lookup of an unknown host name can block for its own time."""
    box: list = []
    thread = threading.Thread(target=lambda: box.append(_attempt(work)), daemon=True, name="ray-reach")
    thread.start()
    while thread.is_alive() and not cancel.is_set() and time.monotonic() < deadline:
        thread.join(0.1)
    return (True, box[0]) if box else (False, None)


def _attempt(work):
    try:
        return work()
    except OSError as exc:
        return exc


def check_reachable(address: str, cancel: threading.Event, timeout_s: float = REACH_TIMEOUT_S) -> bool:
    """Before Ray is asked (it retries a dead address for minutes, deaf to Ctrl-C): is something
    listening at HOST:PORT? False when a signal cancelled the wait; ClusterError with one sentence
    when the host is unknown, nothing listens there, or no answer came within `timeout_s`."""
    import socket

    parsed = _host_port(address)
    if parsed is None:
        return True                     # "auto": Ray finds the address itself
    host, port = parsed
    deadline = time.monotonic() + timeout_s
    done, found = _in_thread(lambda: socket.getaddrinfo(host, port, type=socket.SOCK_STREAM), cancel, deadline)
    if cancel.is_set():
        return False
    if not done:
        raise ClusterError(f"cannot reach the Ray cluster at {address}: the name {host} was not resolved within "
                           f"{timeout_s:.0f} s")
    if isinstance(found, OSError):
        raise ClusterError(f"cannot reach the Ray cluster at {address}: the host name {host} is not known "
                           "(check the head node's name or give its IP address)")
    last: OSError | None = None
    for family, kind, proto, _, where in found:
        while not cancel.is_set() and time.monotonic() < deadline:
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(min(0.5, max(0.05, deadline - time.monotonic())))
                sock.connect(where)
                return True
            except TimeoutError:
                continue                # no answer yet: try again until the deadline (checking cancel)
            except OSError as exc:
                last = exc
                break
            finally:
                sock.close()
    if cancel.is_set():
        return False
    if isinstance(last, ConnectionRefusedError):
        raise ClusterError(f"cannot reach the Ray cluster at {address}: nothing listens there (connection refused); "
                           "is the head node started (ray start --head) and the port right?")
    if last is not None:
        raise ClusterError(f"cannot reach the Ray cluster at {address}: {last.strerror or last}")
    raise ClusterError(f"cannot reach the Ray cluster at {address}: no answer within {timeout_s:.0f} s "
                       "(a firewall, or the wrong host?)")


def _is_loopback(address: str | None) -> bool:
    if address in (None, LOCAL):
        return True
    host = address.split("://")[-1].rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def import_ray(address: str | None = None):
    """Ray, imported for a run on `address` (None / "local": a local instance), or None when the
    cluster extra is not installed."""
    if _is_loopback(address) and "ray" not in sys.modules:
        os.environ.update(LOOPBACK_ENV)     # must precede the import: Ray reads it once
    os.environ.update(PRIVACY_ENV)
    try:
        import ray
    except ImportError:
        return None
    return ray


def worker_env(threads: int) -> dict[str, str]:
    """Environment of every worker process (runtime_env env_vars)."""
    env = {k: v for k, v in os.environ.items() if k.startswith("FACEMIRROR_")}
    env.update(PRIVACY_ENV)
    env["OMP_NUM_THREADS"] = env["FACEMIRROR_THREADS"] = str(threads)    # the task's CPUs, not the node's
    return env


def start_local(ray, num_cpus: int | None = None):
    """A private Ray instance on this machine (never one found through RAY_ADDRESS or an earlier
    `ray start`: address "local"), loopback only, no dashboard, a small object store (results are a
    few hundred bytes per video)."""
    # Ray reads LOOPBACK_ENV once, at its import; a program that imported Ray before import_ray
    # could set it (the test suite's other modules, an embedding program) would get a local
    # instance bound to every interface. The constant Ray derived from it is set here instead.
    from ray._private import ray_constants
    ray_constants.ENABLE_RAY_CLUSTER = False
    return ray.init(address=LOCAL, num_cpus=num_cpus, include_dashboard=False,
                    object_store_memory=100 * 1024 * 1024, logging_level=logging.WARNING)


def connect(ray, address: str | None) -> bool:
    """Start or join Ray; True when this call started it (and must shut it down)."""
    if ray.is_initialized():        # an embedding program (the tests' one cluster) already has one
        return False
    try:
        if address in (None, LOCAL):
            start_local(ray)
        else:
            ray.init(address=address, logging_level=logging.WARNING)
    except SystemExit as exc:       # Ray's own SIGTERM handler is active while it starts
        if exc.code == signal.SIGTERM:
            cancel_signals.request(signal.SIGTERM)
            return ray.is_initialized()
        raise
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        where = "a local Ray" if address in (None, LOCAL) else f"the Ray cluster at {address}"
        raise ClusterError(f"cannot start or reach {where}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
    return True


def ray_process_command(args, out=sys.stdout, err=sys.stderr) -> int:
    cpus = DEFAULT_CPUS if args.ray_cpus is None else args.ray_cpus
    retries = DEFAULT_RETRIES if args.ray_retries is None else args.ray_retries
    refusal = _refused_option(args.ray, cpus, retries)
    if refusal:
        print(f"error: {refusal}", file=err)
        return 2
    with batch.cancel_on_signals() as requested:
        ray = import_ray(args.ray)
        if ray is None:
            print(f"error: --ray needs Ray, which is not installed: {EXTRA_HINT}", file=err)
            return 2
        unreached = _reach(args.ray, requested, out, err)
        if unreached is not None:
            return unreached
        code = _run(ray, args, cpus, retries, requested, out, err)
        return cancel_signals.exit_code() if requested.is_set() else code


def _refused_option(address: str, cpus: int, retries: int) -> str | None:
    """What is wrong with the --ray options (said before anything starts, exit code 2), or None."""
    if cpus < 1:
        return "--ray-cpus must be at least 1"
    if retries < 0:
        return "--ray-retries must be 0 or more"
    if address not in (LOCAL, "auto") and (":" not in address or Path(address).exists()):
        # `process --ray videos/` reads the folder as the address: say so instead of "cannot reach"
        return (f"--ray {address}: the address must be HOST:PORT (or auto); without an address put --ray "
                "after the inputs, or write --ray local")
    return None


def _reach(address: str, cancel: threading.Event, out, err) -> int | None:
    """A cluster's address answers (check_reachable, said on out); else the exit code, said on err."""
    if address in (LOCAL, "auto"):
        return None
    print(f"Ray: reaching {address} (up to {REACH_TIMEOUT_S:.0f} s) ...", file=out)
    out.flush()
    try:
        reached = check_reachable(address, cancel)
    except ClusterError as exc:
        print(f"error: {exc}", file=err)
        return 2
    if not reached:
        print("cancelled before processing started; nothing was written", file=err)
        return cancel_signals.exit_code()
    return None


def _run(ray, args, cpus: int, retries: int, cancel: threading.Event, out, err) -> int:
    plan = batch.prepare(args, cancel, out, err, threads=cpus)   # checks, sha256 and the backend line only
    if isinstance(plan, int):
        return plan
    if not plan.jobs:
        return batch.summarize(plan.rows, out) if plan.rows else batch.nothing_to_do(args, out, err)
    try:
        started = connect(ray, args.ray)
    except ClusterError as exc:
        print(f"error: {exc}", file=err)
        return 2
    cancel_signals.install()        # ray.init replaced the SIGTERM handler with its own (sys.exit)
    try:
        if batch.cancelled_before_start(cancel, err):     # a signal while Ray was starting: submit nothing
            rows = [FileRow(video, CANCELLED, "not started") for video, _ in plan.jobs]
        else:
            rows = _dispatch(ray, plan, args, cpus, retries, cancel, out, err)
    finally:
        if started:
            ray.shutdown()
    if any(r.status == CANCELLED for r in rows):
        sweep(plan, rows, out, err)
    return batch.summarize(plan.rows + rows, out)


def sweep(plan, rows: list[FileRow], out, err, wait_s: float = 15.0) -> None:
    """After a cancel (and after a local Ray's shutdown, which is when its workers die: a signal to
    the whole process group can leave them running past our cancel), remove this computer's partial
    files of dead workers from the folders of the cancelled inputs, waiting up to `wait_s` for
    workers that are still exiting, and say what was removed and what could not be. (A failed task's
    folder is cleaned by _finish; another driver's workers may be writing there meanwhile.)"""
    folders = sorted({out_dir for (_, out_dir), row in zip(plan.jobs, rows) if row.status == CANCELLED})
    for folder in folders:
        _clean_after_kill(folder, out, wait_s)
        left = _others_partials(folder)
        if left:
            print(f"warning: {plural(len(left), 'partial file')} of worker processes still running "
                  f"(or on another computer) remain in {folder}; they are hidden, never results, and the next run "
                  "writing there removes them", file=err)


def task_spec(plan, cpus: int, resume: bool) -> dict:
    models = plan.models
    return {"settings": plan.settings.as_dict(), "threads": cpus, "resume": resume, "version": __version__,
            "model_files": {k: str(Path(p).absolute()) for k, p in models.files.items()},
            "model_sha256": {k: models.sha256(p) for k, p in models.files.items()}}


def _fmt(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _dispatch(ray, plan, args, cpus: int, retries: int, cancel: threading.Event, out, err) -> list[FileRow]:
    from app.cluster.ray_task import run_video

    remote = ray.remote(run_video).options(num_cpus=cpus, max_retries=retries, retry_exceptions=False,
                                           runtime_env={"env_vars": worker_env(cpus)}, name="facemirror-video")
    spec = task_spec(plan, cpus, bool(getattr(args, "resume", False)))
    jobs = plan.jobs
    refs = {remote.remote(str(video.absolute()), str(out_dir.absolute()), spec): i
            for i, (video, out_dir) in enumerate(jobs)}
    total_cpus = int(ray.cluster_resources().get("CPU", 0))
    print(f"Ray: {plural(len(jobs), 'video')}, one task each ({plural(cpus, 'CPU')}, "
          f"up to {retries} retries) on {total_cpus} CPUs", file=out)
    rows: dict[int, FileRow] = {}
    pending = list(refs)
    t0 = last = time.perf_counter()
    while pending and not cancel.is_set():
        ready, pending = ray.wait(pending, num_returns=1, timeout=0.5)
        now = time.perf_counter()
        for ref in ready:
            i = refs[ref]
            rows[i] = _finish(ray, ref, jobs[i], plan, retries, out, err)
            n = len(rows)
            eta = (now - t0) / n * (len(jobs) - n)
            print(f"  [{n}/{len(jobs)} finished, {_fmt(now - t0)} elapsed" +
                  (f", about {_fmt(eta)} left]" if n < len(jobs) else "]"), file=out)
            out.flush()
            last = now
        if now - last > HEARTBEAT_S:
            print(f"  [{len(rows)}/{len(jobs)} finished, {_fmt(now - t0)} elapsed, {len(pending)} waiting or running]",
                  file=out)
            out.flush()
            last = now
    if pending:
        rows.update(_cancel(ray, pending, refs, jobs, plan, out, err))
    return [rows[i] for i in range(len(jobs))]


def _finish(ray, ref, job, plan, retries: int, out, err) -> FileRow:
    """The finished task's lines (as a plain run prints them) and summary row."""
    video, out_dir = job
    label = plan.labels[video]
    try:
        value = ray.get(ref)
    except ray.exceptions.TaskCancelledError:
        print(f"{label}: cancelled", file=err)
        return FileRow(video, CANCELLED, "cancelled")
    except ray.exceptions.WorkerCrashedError:
        clean_stale_files(out_dir)      # the dead workers' partial files, when they ran on this computer
        error = (f"the worker processing it died {plural(retries + 1, 'time')} (killed, or out of "
                 "memory?); nothing was published")
        print(f"{label}: failed: {error}", file=err)
        return FileRow(video, FAILED, error)
    except ray.exceptions.RayError as exc:
        clean_stale_files(out_dir)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        error = f"the Ray task failed ({type(exc).__name__}{': ' + first if first else ''}); nothing was published"
        print(f"{label}: failed: {error}", file=err)
        return FileRow(video, FAILED, error)
    return _row(value, job, plan, out, err)


def _row(value: dict, job, plan, out, err) -> FileRow:
    video, out_dir = job
    label = plan.labels[video]
    if value.get("cleanup"):
        print(f"  {value['cleanup']}", file=out)
    if value["status"] == SKIPPED:
        print(f"{label}: already done ({value['host']}): {value['reason']}", file=out)
        return batch.skipped_row(video, value["report"])
    status = DONE if value["outcome"]["ok"] else FAILED
    print(f"{label}: {status.value} on {value['host']} in {value['seconds']:.1f} s -> {out_dir}", file=out)
    if value.get("redo") and status == DONE:
        print(f"  redone: {value['redo']}; the earlier outputs were replaced", file=out)
    row = batch.report_outcome(video, value["outcome"], out, err)
    if value.get("withdrawn"):
        print(f"  {value['withdrawn']}", file=err)
        row = dataclasses.replace(row, note=f"{row.note}; {value['withdrawn']}")
    return row


def _cancel(ray, pending: list, refs: dict, jobs, plan, out, err) -> dict[int, FileRow]:
    """Cancel what has not finished (a running video's worker is killed), keep what finished in the
    meantime, and remove this computer's partial files of the killed tasks."""
    print(f"cancelling {plural(len(pending), 'unfinished task')} ...", file=err)
    for ref in pending:
        ray.cancel(ref, force=True)
    ray.wait(pending, num_returns=len(pending), timeout=30)
    rows: dict[int, FileRow] = {}
    for ref in pending:
        i = refs[ref]
        try:
            value = ray.get(ref, timeout=1)
        except ray.exceptions.RayError:         # cancelled (or its worker gone): nothing was published
            value = None
        if value is None or (value["status"] != SKIPPED and value["outcome"]["cancelled"]):
            rows[i] = FileRow(jobs[i].video, CANCELLED, "cancelled; nothing was published")
        else:
            rows[i] = _row(value, jobs[i], plan, out, err)
    for folder in sorted({jobs[i].out_dir for i, r in rows.items() if r.status == CANCELLED}):
        _clean_after_kill(folder, out)
    return rows


def _others_partials(folder: Path) -> list[str]:
    """Hidden temporary files in `folder` of processes other than this one."""
    from app.base.outputs import parse_temp_name

    try:
        return [n for n in os.listdir(folder) if (t := parse_temp_name(n)) and t[1] != os.getpid()]
    except OSError:
        return []


def _clean_after_kill(folder: Path, out, wait_s: float = 5.0) -> None:
    """clean_stale_files once the killed workers are really gone (Ray reports a task cancelled as
    soon as it has sent the kill, and a process that still exists keeps its files); what was
    removed is said on `out`."""
    deadline = time.monotonic() + wait_s
    removed: list[str] = []
    while True:
        note = clean_stale_files(folder).message()
        if note:
            removed.append(note)
        if not _others_partials(folder) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if removed:
        print("; ".join(removed), file=out)
