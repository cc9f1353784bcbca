"""oneDNN on AVX2 CPUs (idcg_tf/cpu.py): importing idcg_tf turns TF's oneDNN kernels on where
TF itself would leave them off, and leaves the user's TF_ENABLE_ONEDNN_OPTS alone."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from idcg_tf import cpu

AVX2 = frozenset({"avx2", "fma", "sse4_2"})


@pytest.fixture
def linux_x86(monkeypatch):
    monkeypatch.setattr(cpu.sys, "platform", "linux")
    monkeypatch.setattr(cpu, "is_x86_64", lambda: True)


def test_sets_onednn_on_an_avx2_cpu(linux_x86, monkeypatch):
    monkeypatch.setattr(cpu, "cpu_flags", lambda: AVX2)
    environ = {}
    assert cpu.enable_onednn(environ) is True
    assert environ == {"TF_ENABLE_ONEDNN_OPTS": "1"}


@pytest.mark.parametrize("choice", ["0", "1", "false"])
def test_leaves_the_users_choice(linux_x86, monkeypatch, choice):
    monkeypatch.setattr(cpu, "cpu_flags", lambda: AVX2)
    environ = {"TF_ENABLE_ONEDNN_OPTS": choice}
    assert cpu.enable_onednn(environ) is False
    assert environ == {"TF_ENABLE_ONEDNN_OPTS": choice}


def test_leaves_cpus_without_avx2_and_other_systems(linux_x86, monkeypatch):
    monkeypatch.setattr(cpu, "cpu_flags", lambda: frozenset({"avx", "sse4_2"}))
    environ = {}
    assert cpu.enable_onednn(environ) is False and environ == {}
    monkeypatch.setattr(cpu, "cpu_flags", lambda: AVX2)
    monkeypatch.setattr(cpu.sys, "platform", "darwin")
    assert cpu.enable_onednn(environ) is False and environ == {}


def _onednn_in_fresh_process(**env) -> str:
    """What TensorFlow itself reports (IsMklEnabled) in a new process that imports idcg_tf
    first, as every tool does."""
    environ = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    environ.update(env)
    code = (
        "import idcg_tf\n"
        "from tensorflow.python.util import _pywrap_util_port as p\n"
        "print('onednn', p.IsMklEnabled())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=environ, capture_output=True, text=True, check=True
    )
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.skipif(
    not ({"avx2", "fma"} <= cpu.cpu_flags() and cpu.is_x86_64()),
    reason="needs an x86-64 Linux CPU with AVX2 + FMA (both CI machine kinds have them)",
)
def test_tensorflow_runs_onednn_after_importing_idcg_tf():
    assert _onednn_in_fresh_process() == "onednn True"
    assert _onednn_in_fresh_process(TF_ENABLE_ONEDNN_OPTS="0") == "onednn False"


def test_describe_names_the_cpu():
    record = cpu.describe()
    assert record["cpu"] and record["cpu_count"] >= 1
    assert isinstance(record["avx512"], bool) and isinstance(record["onednn"], bool)
    line = cpu.summary(record)
    assert record["cpu"] in line and ("oneDNN on" in line or "oneDNN off" in line)
