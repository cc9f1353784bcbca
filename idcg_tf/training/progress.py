"""What the console's progress line shows: steps per second and the time left."""

from __future__ import annotations

import math
import time


class SpeedWindow:
    """Steps per second between logged steps, timed from the end of the first iteration (which
    includes tracing)."""

    def __init__(self):
        self.first, self.start, self.step = True, time.perf_counter(), 0
        self.value = float("nan")

    def after(self, step: int) -> None:
        if self.first:
            self.first, self.start, self.step = False, time.perf_counter(), step

    def measure(self, step: int) -> float:
        now = time.perf_counter()
        if step > self.step:
            self.value = (step - self.step) / (now - self.start)
            self.start, self.step = now, step
        return self.value


def fmt_duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
