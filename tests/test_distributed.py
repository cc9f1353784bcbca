"""MirroredStrategy over 2 logical CPU devices gives the same update as 1 device."""

import json
import sys

from conftest import ROOT, run_tool


def test_two_devices_match_one(tiny_cfg, tmp_path):
    cfg = tiny_cfg("train.steps=2", "train.batch_size=4", "train.deterministic=true",
                   "data.flip=true")
    proc = run_tool(str(ROOT / "tests" / "two_devices.py"), json.dumps(cfg.to_dict()),
                    str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["replicas"] == [1, 2]
    assert result["initial_diff"] == 0.0  # same seed, same initial weights
    assert result["weights_moved"] > 1e-4  # training really changed them
    assert result["bn_moving_means"] > 0
    # Same data, same eps, synchronized BatchNorm, losses over the global batch: same update.
    assert result["update_diff"] < 1e-3, result
    assert result["metric_diff"] < 1e-3, result
