"""A quiet console: TensorFlow's start-up chatter is dropped, everything else still shows.

TensorFlow 2.21 logs through absl before absl is initialised, so `TF_CPP_MIN_LOG_LEVEL` does not
reach those lines: on a CPU-only machine every tool used to start with "All log messages before
absl::InitializeLog()...", "Could not find cuda drivers" and "failed call to cuInit: ... UNKNOWN
ERROR (303)", which users read as errors. They are written by C++ straight to file descriptor 2,
so the only place to drop them is the descriptor itself: `install()` points fd 2 at a pipe read by
a small filter process that drops the known start-up lines (and only those) and copies the rest
to the real stderr. Python's own `sys.stderr` keeps writing to the real stderr directly, so
tracebacks, warnings and progress bars are untouched (and keep their terminal). A separate
process rather than a thread, so that a crash of the tool cannot lose a fatal message that C++
wrote just before it: the filter drains the pipe after its writer is gone.

`IDCG_TF_VERBOSE=1` turns the filter off.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import sys

# Each pattern is one start-up line TensorFlow prints on every run of a CPU-only machine;
# none of them is a real problem. Anything not matched (every other warning or error) shows.
NOISE = [
    r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$",
    r"^[IWE]\d{4} [\d:.]+ +\d+ port\.cc:\d+\] oneDNN custom operations are on",
    r"^[IWE]\d{4} [\d:.]+ +\d+ cudart_stub\.cc:\d+\] Could not find cuda drivers",
    r"^[IWE]\d{4} [\d:.]+ +\d+ cuda_(platform|executor|diagnostics)\.cc:\d+\] "
    r"(failed call to cuInit|retrieving CUDA diagnostic|hostname:|libcuda reported|kernel "
    r"reported|Failed to find|no NVIDIA GPU device)",
    r"^[IWE]\d{4} [\d:.]+ +\d+ cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized",
    r"^To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler",
    r"^[IWE]\d{4} [\d:.]+ +\d+ cuda_(dnn|fft|blas)\.cc:\d+\] Unable to register",
    r"^[IWE]\d{4} [\d:.]+ +\d+ computation_placer\.cc:\d+\] computation placer already",
    r"^[IWE]\d{4} [\d:.]+ +\d+ \S+\] TF-TRT Warning: Could not find TensorRT",
    # The LiteRT interpreter's note that it uses its CPU delegate (every interpreter it builds).
    r"^INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.$",
    # tf.data's harmless end-of-sequence notice when an iterator is exhausted.
    r"^[IWE]\d{4} [\d:.]+ +\d+ local_rendezvous\.cc:\d+\] Local rendezvous is aborting with "
    r"status: OUT_OF_RANGE: End of sequence",
]

# The filter process: reads lines from stdin, writes those no pattern matches to stdout.
_FILTER = r"""
import re, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the tool; drain until it is gone
noise = re.compile("|".join("(?:%s)" % p for p in sys.argv[1:]))
out = sys.stdout.buffer
for raw in sys.stdin.buffer:
    if not noise.search(raw.decode("utf-8", "replace").rstrip("\r\n")):
        out.write(raw)
        out.flush()
"""

_state: dict = {}


def install() -> None:
    """Routes fd 2 through the start-up-noise filter for the rest of the process (idempotent)."""
    if _state or os.environ.get("IDCG_TF_VERBOSE", "") not in ("", "0"):
        return
    if sys.stderr is not sys.__stderr__:  # already redirected (pytest's capture, a caller's)
        return
    try:
        sys.stderr.flush()
        real = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable stderr (embedded, closed)
        return
    read_end, write_end = os.pipe()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _FILTER, *NOISE],
            stdin=read_end,
            stdout=real,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )
    except OSError:
        os.close(read_end)
        os.close(write_end)
        os.close(real)
        return
    os.close(read_end)
    os.dup2(write_end, 2)
    os.close(write_end)
    # Python's own messages go to the real stderr directly (same ordering, same terminal).
    sys.stderr = open(
        real,
        "w",
        buffering=1,
        encoding=getattr(sys.stderr, "encoding", None),
        errors="backslashreplace",
        closefd=False,
    )
    _state.update(proc=proc, real=real)
    atexit.register(_uninstall)


def _uninstall() -> None:
    """Gives fd 2 back and lets the filter drain (children that still hold the pipe keep it)."""
    proc = _state.get("proc")
    if proc is None:
        return
    try:
        sys.stderr.flush()
        os.dup2(_state["real"], 2)  # closes our end of the pipe: the filter sees end of input
        proc.wait(timeout=5)
    except (OSError, ValueError, subprocess.TimeoutExpired):
        pass


@contextlib.contextmanager
def tf_warnings_held():
    """Inside, TensorFlow's Python logger shows errors only: for code that does on purpose what
    TF warns about (retracing while timing, the TF1 loader TF Serving runs), whose warning
    would read as a problem on the user's console."""
    import logging

    import tensorflow as tf

    logger = tf.get_logger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
