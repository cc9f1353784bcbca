"""A hang fails fast and loudly: under the suite's own settings (setup.cfg [tool:pytest]) a test
that hangs fails within its timeout and prints every thread's stack, and a hang in native code
that holds the interpreter (what a tf.data teardown deadlock looks like) is ended by
faulthandler's watchdog with every thread's stack. Both in one process and under pytest-xdist's
workers, as `make test` runs."""

import subprocess
import sys
import time

from conftest import IN_BOTH_MODES, ROOT

HANGS = """
import ctypes
import threading


def helper_waits_forever(event):
    event.wait()


def _helper():
    event = threading.Event()
    threading.Thread(target=helper_waits_forever, args=(event,), daemon=True).start()
    return event


def test_python_hang():
    _helper().wait()  # the main thread waits on a thread that waits on it


def test_after_the_hang():
    assert True


def test_native_hang_holding_the_interpreter():
    _helper()
    mutex = ctypes.create_string_buffer(64)  # zeros: PTHREAD_MUTEX_INITIALIZER on glibc
    libc = ctypes.PyDLL(None)  # PyDLL keeps the GIL during the call: no signal handler runs
    libc.pthread_mutex_lock(mutex)
    libc.pthread_mutex_lock(mutex)  # a default mutex locked twice: blocks for good
"""


def _pytest(tmp_path, tests: list[str], timeout: int, watchdog: int, workers: list[str]):
    (tmp_path / "test_hangs.py").write_text(HANGS)
    # The suite's ini options, with short times: the same mechanism the suite relies on.
    args = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--rootdir={tmp_path}",
        "-c",
        str(ROOT / "setup.cfg"),
        "-o",
        f"timeout={timeout}",
        "-o",
        f"faulthandler_timeout={watchdog}",
        "-o",
        "addopts=",
        *workers,
        *(f"test_hangs.py::{test}" for test in tests),
    ]
    start = time.monotonic()
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    return result, time.monotonic() - start


@IN_BOTH_MODES
def test_a_hung_test_fails_within_its_timeout_with_every_threads_stack(tmp_path, workers):
    result, seconds = _pytest(
        tmp_path,
        ["test_python_hang", "test_after_the_hang"],
        timeout=3,
        watchdog=60,
        workers=workers,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "Timeout" in out and "1 failed, 1 passed" in out, out
    assert "helper_waits_forever" in out, out  # the other thread's stack is printed
    assert seconds < 50, out


@IN_BOTH_MODES
def test_a_native_hang_ends_the_process_with_every_threads_stack(tmp_path, workers):
    result, seconds = _pytest(
        tmp_path,
        ["test_native_hang_holding_the_interpreter"],
        timeout=60,
        watchdog=3,
        workers=workers,
    )
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "Timeout (0:00:03)!" in out, out  # faulthandler's header
    assert "helper_waits_forever" in out and "test_native_hang" in out, out
    assert seconds < 50, out
