"""Reader stage: decodes frames on its own thread into a bounded channel."""
from __future__ import annotations

import threading
import time

from app.pipeline.stages.channel import Channel, StageTimer


class ReaderStage(threading.Thread):
    def __init__(self, reader, out: Channel, timer: StageTimer, stop: threading.Event,
                 errors: list[BaseException], max_frames: int | None = None):
        super().__init__(name="facemirror-read", daemon=True)
        self.reader, self.out, self.timer = reader, out, timer
        self.stop, self.errors, self.max_frames = stop, errors, max_frames

    def run(self) -> None:
        read = 0
        try:
            frames = iter(self.reader)
            while not self.out.stopping():
                t = time.perf_counter()
                item = next(frames, None)
                self.timer.add("decode", time.perf_counter() - t)
                if item is None:
                    break
                with self.timer.stage("read_blocked"):
                    if not self.out.put(item):
                        break
                read += 1
                if self.max_frames is not None and read >= self.max_frames:
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread, which raises it
            self.errors.append(exc)
            self.stop.set()
        finally:
            self.out.finish()
            self.timer.set_thread_cpu("reader", time.thread_time())
