"""Timing and memory helpers shared by the benchmark sections."""

from __future__ import annotations

import resource
import sys
import time

import numpy as np
import tensorflow as tf


def percentiles(seconds, qs=(50, 90)) -> dict:
    values = np.asarray(seconds, dtype=np.float64)
    return {f"p{q}": float(np.percentile(values, q)) for q in qs}


# How long the runtime timed before is given to go idle before the next is timed: ONNX
# Runtime's worker threads spin on after a run, and LiteRT timed at once after it ran up to 1.8x
# slower on 2 cores (docs/performance.md, Inference).
SETTLE_SECONDS = 0.2


def settle() -> None:
    """Waits for the threads of the runtime timed before to go idle."""
    time.sleep(SETTLE_SECONDS)


def time_calls(fn, repeats: int) -> list[float]:
    """Wall-clock seconds of `repeats` calls of `fn` (which must block until its result exists)."""
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def runtime_ms(fn, repeats: int) -> dict:
    """One runtime timed in turn after another: once the one before has gone idle (`settle`)
    and after one warm-up call (tracing, graph optimisation), p50 and p90 in milliseconds of
    `repeats` calls of `fn`."""
    settle()
    fn()
    return {k: v * 1e3 for k, v in percentiles(time_calls(fn, repeats)).items()}


def rss_bytes() -> int | None:
    """This process's resident memory now (Linux: VmRSS of /proc/self/status; else None)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def max_rss_bytes() -> int:
    """High-water mark of this process's resident memory."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)  # Linux reports KiB


def gpu_peak_bytes() -> int | None:
    if not tf.config.list_physical_devices("GPU"):
        return None
    return int(tf.config.experimental.get_memory_info("GPU:0")["peak"])


def reset_gpu_peak() -> None:
    if tf.config.list_physical_devices("GPU"):
        tf.config.experimental.reset_memory_stats("GPU:0")
