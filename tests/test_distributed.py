"""MirroredStrategy over 2 logical CPU devices gives the same update as 1 device."""

import json

import pytest

from conftest import ROOT, run_tool

# The two runs compute the same float64 numbers in a different order (see two_devices.py).
# Rounding then differs by about n * 1.1e-16 relative for a sum of n terms: ~4e-12 for the
# largest sums here (BatchNorm statistics and weight gradients over 4 x 8 x 32 x 32 values), and
# a few dozen layers and two iterations may amplify that by cancellation. 1e-9 leaves that room on
# any CPU's kernels and is still far below float32's own rounding (6e-8 per operation), let alone
# the error of any mistake in the replica logic (a large fraction of the update).
BOUND = 1e-9


@pytest.mark.slow  # ~40 s: two processes train; make test-slow, which CI runs
def test_two_devices_match_one(tiny_cfg, tmp_path):
    # taps: float64 3D convolutions have no oneDNN kernels; TF's Eigen Conv3D gradients are
    # slow, and the replica logic under test does not depend on how a convolution computes.
    cfg = tiny_cfg(
        "trainer.steps=2",
        "trainer.batch_size=4",
        "trainer.deterministic=true",
        "task.data.flip=true",
        "task.model.conv_impl=custom",
    )
    proc = run_tool(
        str(ROOT / "tests" / "two_devices.py"), json.dumps(cfg.to_dict()), str(tmp_path)
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["replicas"] == [1, 2]
    assert result["dtypes"] == ["float64"]
    assert result["initial_diff"] == 0.0  # same seed, same initial weights
    assert result["weights_moved"] > 1e-4  # training really changed them
    assert result["bn_moving_means"] > 0
    # Same data, same eps, synchronized BatchNorm, losses over the global batch: same update.
    assert result["update_diff"] < BOUND, result
    assert result["metric_diff"] < BOUND, result
