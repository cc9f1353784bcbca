"""Consoles: TensorFlow's start-up chatter is dropped, real messages still show; a tool run from
another folder finds a shipped config by name, or says in one line which names there are."""

import subprocess
import sys

from conftest import ROOT

# Start-up lines a CPU-only machine printed before (tests/test_training.py checks a real run).
STARTUP_NOISE = (
    "absl::InitializeLog",
    "cuInit",
    "Could not find cuda drivers",
    "oneDNN custom operations",
    "cpu_feature_guard",
    "To enable the following",
)

SCRIPT = r"""
import os, sys
from idcg_tf import console
console.install()
os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
os.write(2, b"E0000 00:00:1796042853.840760    5673 cuda_platform.cc:52] failed call to cuInit: "
            b"INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n")
os.write(2, b"W0000 00:00:1796042853.840760    5673 some_kernel.cc:7] a real C++ warning\n")
print("a python message", file=sys.stderr)
if sys.argv[1] == "abort":
    os.write(2, b"F0000 00:00:1.0 1 check.cc:1] Check failed: fatal C++ message\n")
    os.abort()
raise RuntimeError("a real traceback")
"""


def _run(mode: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_filter_drops_startup_noise_and_keeps_real_messages():
    proc = _run("raise")
    assert proc.returncode == 1
    assert "absl::InitializeLog" not in proc.stderr and "cuInit" not in proc.stderr
    assert "a real C++ warning" in proc.stderr
    assert "a python message" in proc.stderr
    assert "RuntimeError: a real traceback" in proc.stderr


def test_filter_keeps_a_fatal_message_written_just_before_a_crash():
    proc = _run("abort")
    assert proc.returncode != 0
    assert "Check failed: fatal C++ message" in proc.stderr
    assert "cuInit" not in proc.stderr


def _train_tool(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "tools" / "train.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_shipped_config_by_name_from_another_folder(tmp_path):
    proc = _train_tool("--config", "tiny", "--dry-run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    first = proc.stdout.splitlines()[0]
    assert first.startswith("# resolved config (") and first.endswith(
        "idcg_tf/configs/tiny.yaml); workdir runs/tiny"
    )
    assert not any(noise in proc.stderr for noise in STARTUP_NOISE)


def test_an_unknown_config_name_is_one_line_exit_2(tmp_path):
    proc = _train_tool("--config", "celeb_modle1", "--dry-run", cwd=tmp_path)
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: celeb_modle1: config file not found") and "celeb_model1" in line
