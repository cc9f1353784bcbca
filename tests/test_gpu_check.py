"""`make gpu-check` on a machine without a GPU: it says so and still runs training (1 replica),
export and parity, and writes its JSON report."""

import json

import pytest
import tensorflow as tf

from conftest import ROOT, run_tool


@pytest.mark.slow  # ~90 s (train, export, parity); make test-slow, which CI runs
def test_gpu_check_runs_its_cpu_parts_without_a_gpu(tmp_path):
    report_path = tmp_path / "gpu_check.json"
    proc = run_tool(str(ROOT / "tools" / "gpu_check.py"), "--report", str(report_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(report_path.read_text())
    has_gpu = bool(tf.config.list_physical_devices("GPU"))
    assert report["device"]["gpu_found"] == has_gpu
    if not has_gpu:
        assert "no GPU found" in proc.stderr
        assert report["benchmark"] == "skipped: no GPU found"
    training = report["training"]
    assert training["replicas"] == 1 and training["finite_losses"] and report["ok"]
    assert set(training["parity_max_abs"]) == {"image_to_video", "video_to_image"}
    for diffs in training["parity_max_abs"].values():
        assert max(diffs.values()) <= training["parity_tolerance"]
