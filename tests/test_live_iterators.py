"""The end-of-run tf.data iterator check (tests/live_iterators.py) fails a run that leaves an
iterator alive, with and without pytest-xdist's workers (`make test` runs two)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import IN_BOTH_MODES

LEAKY = """
import tensorflow as tf

KEPT = []

def test_leaves_an_iterator_alive():
    KEPT.append(iter(tf.data.Dataset.range(3)))

def test_closes_its_iterator():
    it = iter(tf.data.Dataset.range(3))
    assert int(next(it)) == 0
    del it
"""


@IN_BOTH_MODES
def test_an_iterator_left_alive_fails_the_run(tmp_path, workers):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_leaky.py").write_text(LEAKY)
    env = dict(
        os.environ,
        PYTHONPATH=str(Path(__file__).parent),
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "live_iterators", *workers, "test_leaky.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert "2 passed" in proc.stdout, proc.stdout + proc.stderr
    assert "1 tf.data iterator(s) alive at the end of the session" in proc.stdout, proc.stdout
    assert proc.returncode == 1, proc.stdout
