"""A process that used the library ends when its work ends: no tf.data iterator, pool, writer
or lock is left for interpreter shutdown, where tf.data's teardown can deadlock."""

import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT

EXIT_WITHIN = 30  # seconds from the script's last line to the end of its process


@pytest.mark.parametrize(
    "task",
    # The generation script (~28 s) exits through the same loop: make test-slow (CI).
    ["translation", pytest.param("generation", marks=pytest.mark.slow)],
)
def test_process_exits_soon_after_its_last_line(task, tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONFAULTHANDLER="1")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "exit_main.py"), task, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines, last_at = [], None
    for line in proc.stdout:  # ends when the process closes its output, i.e. as it exits
        lines.append(line)
        if line.startswith("LAST LINE"):
            last_at = time.monotonic()
            break
    try:
        proc.wait(timeout=EXIT_WITHIN if last_at else 240)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack
        rest, _ = proc.communicate(timeout=60)
        pytest.fail(
            f"the {task} script did not exit within {EXIT_WITHIN} s of its last line:\n"
            + "".join(lines[-20:])
            + rest
        )
    rest = proc.stdout.read()
    proc.stdout.close()
    output = "".join(lines) + rest
    assert last_at is not None and proc.returncode == 0, output
    assert time.monotonic() - last_at < EXIT_WITHIN
