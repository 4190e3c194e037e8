"""Endurance: the real window for a clinic's length of time (issue 31). docs/performance.md has the
figures; `python main.py benchmark soak --help` the options.

    python main.py benchmark soak live   # the live exam, a file as the camera, 30 min, Record 5 s each minute
    python main.py benchmark soak main   # the main window over 200 short clips, 20 per folder
    python main.py benchmark soak both [--json]

Each soak runs the app as a subprocess (bench/soak_driver.py: launch_gui and its event loop, driven
through the windows' own buttons and actions) under an X server: DISPLAY when it is set, else an
Xvfb of our own (Qt's offscreen platform only when Xvfb is missing: said in the output). This
process samples /proc/PID (resident memory, threads, open file descriptors) every --interval s,
and afterwards greps the app's stderr and log file for fatal errors and tracebacks. The memory
slope is a least-squares line through the samples between the first file processed (the warm-up:
models loaded, encoders and caches made) and the closing of the windows. The media are made for
the run (PyAV): a portrait photograph moving like a head (../shared/media/portrait_frontal.jpg,
or --image), or, without one, a drawn face.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DRIVER = Path(__file__).resolve().parent / "soak_driver.py"
MB = 1024 * 1024
FATAL_PATTERNS = ("Fatal Python error", "Traceback (most recent call last)", "Segmentation fault",
                  "core dumped", "terminate called", "Aborted")
CLIPS_PER_FOLDER = 20                  # a clinic's folder (the crash came 9 minutes into 20 clips)


# ================================================================================================
# media
def drawn_face(path: Path, size: int = 480) -> Path:
    """A drawn face (hair, shaded eye sockets, brows, nose, lips, softened edges) for when no
    photograph is at hand: RetinaFace finds it at every pose the clips give it (+-8 deg, +-5 %)."""
    import cv2
    import numpy as np

    h, w = size, int(size * 0.8)
    img = np.full((h, w, 3), (170, 175, 180), np.uint8)
    cx, cy, k = w // 2, int(h * 0.55), size / 480

    def px(v: float) -> int:
        return int(v * k)

    hair, skin, shade = (40, 50, 70), (130, 165, 215), (95, 120, 165)
    cv2.rectangle(img, (cx - px(45), cy + px(150)), (cx + px(45), h), (120, 150, 200), -1)      # neck
    cv2.ellipse(img, (cx, cy - px(40)), (px(150), px(175)), 0, 180, 360, hair, -1)
    cv2.ellipse(img, (cx, cy), (px(130), px(170)), 0, 0, 360, skin, -1)
    cv2.ellipse(img, (cx, cy - px(95)), (px(135), px(75)), 0, 180, 360, hair, -1)              # fringe
    for side in (-1, 1):
        ex, ey = cx + side * px(52), cy - px(25)
        cv2.ellipse(img, (ex, ey), (px(32), px(20)), 0, 0, 360, shade, -1)                     # eye socket
        cv2.ellipse(img, (ex, ey), (px(24), px(11)), 0, 0, 360, (235, 235, 235), -1)
        cv2.circle(img, (ex, ey), px(10), (40, 30, 25), -1)
        cv2.ellipse(img, (ex, ey - px(30)), (px(32), px(8)), 0, 180, 360, (40, 45, 60), px(7))  # brow
        cv2.ellipse(img, (cx + side * px(70), cy + px(45)), (px(30), px(20)), 0, 0, 360, (125, 155, 210), -1)
        cv2.ellipse(img, (cx + side * px(10), cy + px(45)), (px(7), px(4)), 0, 0, 360, (60, 70, 100), -1)  # nostril
    nose = np.array([[cx, cy - px(20)], [cx - px(18), cy + px(45)], [cx + px(18), cy + px(45)]], np.int32)
    cv2.fillPoly(img, [nose], (115, 145, 195))
    cv2.ellipse(img, (cx, cy + px(90)), (px(42), px(12)), 0, 0, 360, (90, 90, 170), -1)
    cv2.line(img, (cx - px(42), cy + px(90)), (cx + px(42), cy + px(90)), (50, 50, 110), px(3))
    cv2.imwrite(str(path), cv2.GaussianBlur(img, (0, 0), 2.0 * k))
    return path


def face_image(image: Path | None, work: Path) -> tuple[Path, str]:
    from bench.media import DEFAULT_IMAGE

    for candidate in (image, DEFAULT_IMAGE):
        if candidate is not None and Path(candidate).is_file():
            return Path(candidate), "photograph"
    if image is not None:
        raise SystemExit(f"error: no image {image}")
    return drawn_face(work / "drawn_face.png"), "drawn face (no photograph found)"


def make_clips(folder: Path, n: int, image: Path, size: tuple[int, int] = (320, 240), fps: float = 30.0,
               per_folder: int = CLIPS_PER_FOLDER) -> Path:
    """n clips of 1, 1.5 or 2 s, ``per_folder`` to a sub-folder (added one folder at a time)."""
    from bench.media import make_video

    for i in range(n):
        make_video(folder / f"visit{i // per_folder:03d}" / f"clip{i:04d}.mp4", size, 1.0 + 0.5 * (i % 3), fps,
                   image, out=io.StringIO())
    return folder


# ================================================================================================
# the X server
@dataclass
class Display:
    env: dict
    text: str
    process: subprocess.Popen | None = None
    number: str | None = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def open_display(display: str | None = None, timeout: float = 30.0) -> Display:
    """DISPLAY when set (or --display), else our own Xvfb (-displayfd: it writes its number once it
    accepts clients, so there is no start-up race), else Qt's offscreen platform."""
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    if display is None and os.environ.get("DISPLAY") and os.environ.get("QT_QPA_PLATFORM", "xcb") == "xcb":
        env["QT_QPA_PLATFORM"] = "xcb"
        return Display(env, f"X server {os.environ['DISPLAY']} (DISPLAY)", number=os.environ["DISPLAY"])
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        env["QT_QPA_PLATFORM"] = "offscreen"
        return Display(env, "Qt offscreen platform: Xvfb is not installed (apt-get install xvfb), so no X server")
    read, write = os.pipe()
    cmd = [xvfb] + ([f":{display.lstrip(':')}"] if display else []) + [
        "-displayfd", str(write), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"]
    proc = subprocess.Popen(cmd, pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    number = _read_display_number(read, timeout)
    if not number:
        proc.kill()
        proc.wait()
        raise SystemExit(f"error: Xvfb did not start ({' '.join(cmd)})")
    env.update(DISPLAY=f":{number}", QT_QPA_PLATFORM="xcb")
    return Display(env, f"Xvfb :{number} (started for the soak)", proc, f":{number}")


def _read_display_number(fd: int, timeout: float) -> str:
    import select

    data = b""
    end = time.monotonic() + timeout
    try:
        while b"\n" not in data and time.monotonic() < end:
            ready, _, _ = select.select([fd], [], [], max(0.0, end - time.monotonic()))
            if not ready:
                break
            chunk = os.read(fd, 64)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    return data.decode().strip()


# ================================================================================================
# sampling the process
def proc_sample(pid: int) -> dict | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, ValueError):
        return None
    values = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    try:
        rss_kb = int(values["VmRSS"].split()[0])
        threads = int(values["Threads"])
    except (KeyError, ValueError, IndexError):
        return None                                    # a zombie: no memory left to read
    return {"rss_mb": rss_kb / 1024.0, "threads": threads, "fds": fds}


def slope_per_min(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, value) in value per minute; None under 3 points."""
    if len(points) < 3:
        return None
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    den = sum((t - mt) ** 2 for t, _ in points)
    if den <= 0:
        return None
    return 60.0 * sum((t - mt) * (v - mv) for t, v in points) / den


def fatal_lines(text: str, context: int = 4) -> list[str]:
    """Each fatal error or traceback with the lines after it (where it happened, what it was)."""
    lines = text.splitlines()
    found: list[str] = []
    for i, line in enumerate(lines):
        if any(p in line for p in FATAL_PATTERNS):
            found.append("\n".join(lines[i:i + 1 + context]).strip())
    return found


@dataclass
class Run:
    kind: str
    samples: list[tuple[float, dict]] = field(default_factory=list)   # (seconds since start, sample)
    events: list[tuple[float, dict]] = field(default_factory=list)
    stdout_other: list[str] = field(default_factory=list)

    def event(self, name: str) -> tuple[float, dict] | None:
        return next(((t, e) for t, e in self.events if e.get("event") == name), None)


def _read_events(stream, run: Run, t0: float) -> None:
    for line in stream:
        line = line.rstrip("\n")
        if line.startswith("SOAK "):
            try:
                run.events.append((time.monotonic() - t0, json.loads(line[5:])))
                continue
            except ValueError:
                pass
        run.stdout_other.append(line)


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(code).name
    except ValueError:
        return f"signal {code}"


def run_soak(kind: str, driver_args: list[str], work: Path, display: Display, timeout: float,
             interval: float = 2.0, screenshot: Path | None = None, python: str | None = None) -> dict:
    """Run bench/soak_driver.py KIND and measure it. Returns the figures (see _table for their names)."""
    work.mkdir(parents=True, exist_ok=True)
    env = dict(display.env)
    env.update(FACEMIRROR_LOG_DIR=str(work / "log"), FACEMIRROR_DATA_DIR=str(work / "data"),
               FACEMIRROR_CACHE_DIR=str(work / "cache"), PYTHONUNBUFFERED="1")
    stderr_path = work / "stderr.txt"
    cmd = [python or sys.executable, str(DRIVER), kind, "--out", str(work / "out"), "--settings", str(work / "settings"),
           *driver_args]
    run = Run(kind)
    t0 = time.monotonic()
    with open(stderr_path, "w") as err:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        reader = threading.Thread(target=_read_events, args=(proc.stdout, run, t0), daemon=True)
        reader.start()
        timed_out, shot_taken = False, False
        while proc.poll() is None:
            now = time.monotonic() - t0
            sample = proc_sample(proc.pid)
            if sample is not None and proc.poll() is None:
                run.samples.append((now, sample))
            warm = run.event("warm")
            if screenshot is not None and not shot_taken and display.number and warm and now > warm[0] + 30:
                shot_taken = _screenshot(display, screenshot)
            if now > timeout:
                timed_out = True
                proc.send_signal(signal.SIGTERM)      # the app quits cleanly on SIGTERM (exit 143)
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                break
            try:
                proc.wait(interval)
            except subprocess.TimeoutExpired:
                pass
        proc.wait()
        reader.join(10)
    wall = time.monotonic() - t0
    code = proc.returncode
    stderr = stderr_path.read_text(errors="replace")
    log_text = "\n".join(p.read_text(errors="replace") for p in sorted((work / "log").glob("facemirror.log*")))
    return _figures(run, code, wall, timed_out, stderr, log_text, screenshot if screenshot and screenshot.exists() else None,
                    interval)


def _screenshot(display: Display, path: Path) -> bool:
    tool = shutil.which("import")
    if tool is None:
        return True
    subprocess.run([tool, "-window", "root", "-display", display.number or "", str(path)], env=display.env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60, check=False)
    return True


def _figures(run: Run, code: int, wall: float, timed_out: bool, stderr: str, log_text: str, shot: Path | None,
             interval: float) -> dict:
    warm = run.event("warm")
    closing = run.event("closing")
    end = run.event("end")
    t_warm = warm[0] if warm else None
    t_close = closing[0] if closing else float("inf")
    # the slope: samples from the warm-up's end to one interval before the windows close (a sample
    # read while they close would count their teardown)
    steady = [(t, s) for t, s in run.samples if t_warm is not None and t_warm <= t <= t_close - interval]
    # start and end: what the app read of itself at those two events, else the nearest samples
    first = (warm[1].get("proc") if warm else None) or (steady[0][1] if steady else None)
    last = (closing[1].get("proc") if closing else None) or (steady[-1][1] if steady else None)
    # threads and descriptors: compared between two idle moments, the windows up and nothing being
    # processed (at the warm-up's end a file is being encoded: its threads would hide a growth)
    ready = run.event("ready")
    idle = (ready[1].get("proc") if ready else None) or first
    summary = (end or closing or (0.0, {}))[1]
    ticks = [e for _, e in run.events if e.get("event") in ("ready", "tick", "warm", "closing")]
    refs = [e["none_refs"] for e in ticks if e.get("none_refs") is not None]
    fatal = fatal_lines(stderr) + [f"(log) {x}" for x in fatal_lines(log_text)]
    return {
        "soak": run.kind,
        "exit_code": 128 - code if code < 0 else code,        # as a shell says it: 134 = SIGABRT
        "exit_signal": _signal_name(-code) if code < 0 else None,
        "timed_out": timed_out,
        "wall_s": round(wall, 1),
        "ready_s": round(ready[0], 1) if ready else None,
        "warm_s": round(t_warm, 1) if t_warm is not None else None,
        "steady_s": round(steady[-1][0] - steady[0][0], 1) if len(steady) > 1 else 0.0,
        "samples": len(steady),
        "rss_start_mb": round(first["rss_mb"], 1) if first else None,
        "rss_end_mb": round(last["rss_mb"], 1) if last else None,
        "rss_peak_mb": round(max(s["rss_mb"] for _, s in run.samples), 1) if run.samples else None,
        "rss_slope_mb_per_min": _round(slope_per_min([(t, s["rss_mb"]) for t, s in steady]), 2),
        "threads_start": idle["threads"] if idle else None,
        "threads_end": last["threads"] if last else None,
        "threads_max": max(s["threads"] for _, s in steady) if steady else None,
        "thread_names_start": idle.get("thread_names") if idle else None,
        "thread_names_end": last.get("thread_names") if last else None,
        "fds_start": idle["fds"] if idle else None,
        "fds_end": last["fds"] if last else None,
        "fds_max": max(s["fds"] for _, s in steady) if steady else None,
        "files_processed": summary.get("done"),
        "files_failed": summary.get("failed"),
        "files_cancelled": summary.get("cancelled"),
        "files_queued": summary.get("jobs"),
        "recordings": summary.get("recordings") if run.kind == "live" else None,
        "record_clicks": summary.get("record_clicks") if run.kind == "live" else None,
        "five_point_mode": ready[1].get("five_point") if ready else None,
        "none_refs_ready": refs[0] if refs else None,
        "none_refs_min": min(refs) if refs else None,
        "none_refs_closing": closing[1].get("none_refs") if closing else None,
        "problems": list(summary.get("problems") or []) + list(summary.get("failures") or []),
        "fatal": fatal,
        "closed_cleanly": end is not None,
        "screenshot": str(shot) if shot else None,
    }


def _round(x: float | None, nd: int) -> float | None:
    return None if x is None else round(x, nd)


# ================================================================================================
# the two soaks
def soak_live(work: Path, display: Display, image: Path, minutes: float, record_every: float, record_seconds: float,
              size: tuple[int, int] = (640, 480), interval: float = 2.0, screenshot: bool = False,
              python: str | None = None, fps: float = 30.0) -> dict:
    """``fps``: the camera's frame rate (the file is played at it, as a camera delivers frames)."""
    from bench.media import make_video

    source = make_video(work / "camera.mp4", size, 10.0, fps, image, out=io.StringIO())
    seconds = minutes * 60.0
    args = ["--source", str(source), "--seconds", f"{seconds:g}", "--record-every", f"{record_every:g}",
            "--record-seconds", f"{record_seconds:g}", "--first-record", f"{min(5.0, record_every / 2):g}",
            "--deadline", f"{seconds + 600:g}"]
    # start-up, the run, then the last recordings' processing: generous, it is only a safety net
    return run_soak("live", args, work / "live", display, timeout=seconds + 900, interval=interval,
                    screenshot=work / "live.png" if screenshot else None, python=python)


def soak_main(work: Path, display: Display, image: Path, clips: int, size: tuple[int, int] = (320, 240),
              interval: float = 2.0, screenshot: bool = False, python: str | None = None,
              per_folder: int = CLIPS_PER_FOLDER, max_minutes: float | None = None) -> dict:
    """``max_minutes``: the window cancels the file it is on and closes after that long (a loaded
    machine); the files processed by then are counted, the rest stay waiting."""
    folder = make_clips(work / "clips", clips, image, size, per_folder=per_folder)
    deadline = 120 + clips * 60 if max_minutes is None else max_minutes * 60
    return run_soak("main", ["--clips", str(folder), "--deadline", f"{deadline:g}"], work / "main", display,
                    timeout=deadline + 300, interval=interval, screenshot=work / "main.png" if screenshot else None,
                    python=python)


def machine_state() -> dict:
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {"cpus": os.cpu_count(), "loadavg_1_5_15": load, "python": sys.version.split()[0]}


def _pyside_version(python: str | None) -> str:
    out = subprocess.run([python or sys.executable, "-c", "import PySide6; print(PySide6.__version__)"],
                         capture_output=True, text=True, check=False)
    return out.stdout.strip() or "not installed"


# ================================================================================================
# output
ROWS = (("exit code", "exit_code"), ("exit signal", "exit_signal"), ("wall time (s)", "wall_s"),
        ("warm-up ends at (s)", "warm_s"), ("measured span (s)", "steady_s"),
        ("RSS warm / close / peak (MB)", ("rss_start_mb", "rss_end_mb", "rss_peak_mb")),
        ("RSS slope (MB/min)", "rss_slope_mb_per_min"),
        ("threads ready / close / max", ("threads_start", "threads_end", "threads_max")),
        ("open fds ready / close / max", ("fds_start", "fds_end", "fds_max")),
        ("files done / failed / cancelled / queued", ("files_processed", "files_failed", "files_cancelled", "files_queued")),
        ("recordings made", "recordings"), ("5-point mode", "five_point_mode"),
        ("refs to None ready / min / closing", ("none_refs_ready", "none_refs_min", "none_refs_closing")),
        ("closed cleanly", "closed_cleanly"), ("timed out", "timed_out"))


def _cell(r: dict, key) -> str:
    if isinstance(key, tuple):
        return " / ".join("-" if r.get(k) is None else str(r.get(k)) for k in key)
    v = r.get(key)
    return "-" if v is None else str(v)


def print_table(report: dict, out=None) -> None:
    out = out or sys.stdout
    results = report["soaks"]
    m = report["machine"]
    print(f"Soak under {report['display']}; PySide6 {report['pyside6']}, Python {m['python']}, {m['cpus']} CPUs, "
          f"load average at start {m['loadavg_1_5_15']}; media: {report['image']}", file=out)
    width = max(len(label) for label, _ in ROWS)
    cols = [max(18, *(len(_cell(r, k)) for _, k in ROWS)) for r in results]
    print(f"{'':{width}}  " + "  ".join(f"{r['soak']:>{c}}" for r, c in zip(results, cols)), file=out)
    for label, key in ROWS:
        print(f"{label:{width}}  " + "  ".join(f"{_cell(r, key):>{c}}" for r, c in zip(results, cols)), file=out)
    for r in results:
        for p in r["problems"]:
            print(f"{r['soak']}: problem: {p}", file=out)
        for f in r["fatal"]:
            print(f"{r['soak']}: FATAL:\n  " + f.replace("\n", "\n  "), file=out)
        if not r["fatal"]:
            print(f"{r['soak']}: no fatal error or traceback in stderr or the log", file=out)
        a, b = r.get("thread_names_start") or {}, r.get("thread_names_end") or {}
        grew = {k: f"{a.get(k, 0)}->{n}" for k, n in b.items() if n > a.get(k, 0)}
        if grew:
            print(f"{r['soak']}: threads more when the windows closed than when they were ready: {grew}", file=out)
        if r.get("screenshot"):
            print(f"{r['soak']}: screenshot {r['screenshot']}", file=out)


def soak(which: str, *, minutes: float = 30.0, record_every: float = 60.0, record_seconds: float = 5.0, clips: int = 200,
         image: Path | None = None, keep: Path | None = None, display: str | None = None, interval: float = 2.0,
         python: str | None = None, screenshot: bool = False, main_minutes: float | None = None) -> dict:
    """Run the soak(s) and return the report (machine, display, one figures dict per soak)."""
    work = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="facemirror-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    state = machine_state()
    photo, image_text = face_image(image, work)
    shown = open_display(display)
    try:
        results = []
        if which in ("live", "both"):
            results.append(soak_live(work, shown, photo, minutes, record_every, record_seconds, interval=interval,
                                     screenshot=screenshot, python=python))
        if which in ("main", "both"):
            results.append(soak_main(work, shown, photo, clips, interval=interval, screenshot=screenshot, python=python,
                                     max_minutes=main_minutes))
    finally:
        shown.stop()
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)
    state["loadavg_at_end"] = machine_state()["loadavg_1_5_15"]
    return {"machine": state, "display": shown.text, "pyside6": _pyside_version(python), "image": image_text,
            "work": str(work) if keep else None, "soaks": results}


def healthy(r: dict) -> bool:
    return r["exit_code"] == 0 and not r["fatal"] and not r["timed_out"] and r["closed_cleanly"]


def soak_command(args) -> int:
    report = soak(args.which, minutes=args.minutes, record_every=args.record_every, record_seconds=args.record_seconds,
                  clips=args.clips, image=args.image, keep=args.keep, display=args.display, interval=args.interval,
                  screenshot=args.screenshot, main_minutes=args.main_minutes)
    if args.json:
        print(json.dumps(report))
    else:
        print_table(report)
    return 0 if all(healthy(r) for r in report["soaks"]) else 1

