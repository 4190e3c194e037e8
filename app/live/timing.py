"""How much of the exam the recording holds: its frames and their times against the time the
recording ran (Record held, in the window; the session's run, headless). A camera delivers its
rate whatever the computer does; when the computer is too busy to take the frames, they are lost
before they reach the recording, which then comes out shorter (or with holes) than the exam. Said
in one plain sentence with the figures, for the window and for the `live` command alike."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Not "lost": the frame between Record and the first frame, and the one between the last and Stop
# (up to one frame each), and a camera's rate a little off its nominal one
SLACK_FRAMES = 2
SLACK_SHARE = 0.05


@dataclass(frozen=True)
class RecordingTiming:
    held_s: float         # wall-clock time the recording ran
    frames: int           # frames in the recording
    recorded_s: float     # the recording's length from its frames' times (last - first + one frame)
    fps: float            # the camera's (source's) nominal rate
    gap_frames: int       # frames missing between recorded frames (holes in their times)

    @classmethod
    def of(cls, held_s: float, times: Sequence[float], fps: float) -> RecordingTiming:
        fps = fps if fps and fps > 0 else 30.0
        step = 1.0 / fps
        recorded = (times[-1] - times[0] + step) if len(times) else 0.0
        gaps = 0
        for a, b in zip(times, times[1:]):
            missing = int(round((b - a) * fps)) - 1     # a hole of k frame steps lost k - 1 frames
            gaps += max(0, missing)
        return cls(round(max(0.0, held_s), 3), len(times), round(recorded, 3), float(fps), gaps)

    @property
    def expected_frames(self) -> int:
        """The frames the camera delivered while the recording ran, at its nominal rate."""
        return int(round(self.held_s * self.fps))

    @property
    def lost_frames(self) -> int:
        return max(0, self.expected_frames - self.frames)

    @property
    def frames_were_lost(self) -> bool:
        return self.lost_frames > max(SLACK_FRAMES, SLACK_SHARE * self.expected_frames)

    def sentence(self) -> str:
        """One plain sentence when frames were lost, else ""."""
        if not self.frames_were_lost:
            return ""
        # "missing", not "lost": a file played as the camera in real time only waits for a busy
        # computer (its frames come late, none is dropped); a camera's frames are gone
        return (f"Recorded {self.recorded_s:.1f} s of the {self.held_s:.1f} s the recording ran: "
                f"{self.lost_frames} of about {self.expected_frames} frames are missing because the computer "
                f"was too busy to take them from the camera at its pace ({self.frames} frames kept). Close "
                "other programs and record again if the exam needs every moment.")

    def as_dict(self) -> dict:
        return {"held_s": self.held_s, "recorded_s": self.recorded_s, "recorded_frames_expected": self.expected_frames,
                "recorded_frames_lost": self.lost_frames, "recorded_gap_frames": self.gap_frames,
                "frames_lost_note": self.sentence() or None}
