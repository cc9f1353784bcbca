"""Shared fixtures: tiny configs and tiny TFRecord datasets, made once per session."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# conv_impl "auto" would time every new layer shape once per machine (and write to
# ~/.cache); the suite uses the fixed rule, and tests/test_convolutions.py turns timing on where it
# tests it, with its own cache folder.
os.environ.setdefault("IDCG_CONV_AUTOTUNE", "0")

import pytest  # noqa: E402

# The tf.data iterator check at the end of every test process (tests/live_iterators.py).
pytest_plugins = ("live_iterators",)

# Before any test module imports TensorFlow, as the tools do: idcg_tf turns TF's oneDNN
# kernels on on AVX2 CPUs (idcg_tf/cpu.py), so the suite runs what users run.
import idcg_tf  # noqa: E402, F401

ROOT = Path(__file__).resolve().parents[1]
# A test of the suite's own machinery, run both ways `make test` may run it.
IN_BOTH_MODES = pytest.mark.parametrize(
    "workers", [[], ["-n", "2"]], ids=["one process", "xdist workers"]
)
TINY = ROOT / "configs" / "tiny.yaml"
TINY_GENERATION = ROOT / "configs" / "tiny_generation.yaml"


@pytest.fixture(scope="session")
def synthetic_data(tmp_path_factory):
    """Train and test shards of procedurally drawn 32x32 faces, 8-frame clips."""
    from idcg_tf.data.synthetic import write_synthetic

    out = tmp_path_factory.mktemp("synthetic")
    train = write_synthetic(
        out, resolution=32, frames=8, num_images=24, num_clips=12, split="train", seed=0
    )
    test = write_synthetic(
        out, resolution=32, frames=8, num_images=8, num_clips=4, split="test", seed=1, shards=1
    )
    return {
        "train_images": train["images"],
        "train_clips": train["clips"],
        "test_images": test["images"],
        "test_clips": test["clips"],
        "dir": out,
    }


@pytest.fixture
def tiny_cfg(synthetic_data):
    """A function returning the tiny config on the synthetic data, with overrides."""
    from idcg_tf import config

    def make(*overrides: str, base=TINY):
        data = [f"task.data.{k}={v}" for k, v in synthetic_data.items() if k != "dir"]
        if base == TINY_GENERATION:
            data = [d for d in data if "_images=" not in d]
        return config.load(base, data + list(overrides))

    return make


@pytest.fixture(scope="session")
def tiny_run(synthetic_data, tmp_path_factory):
    """A tiny run trained for 2 steps (checkpoints at 1 and 2, its networks kept in memory)
    and its first export (version 1, with ONNX). Tests that change either work on a copy."""
    from idcg_tf import config
    from idcg_tf.deploy.export import export_run
    from idcg_tf.experiment import make_trainer

    data = [f"task.data.{k}={v}" for k, v in synthetic_data.items() if k != "dir"]
    cfg = config.load(
        TINY, data + ["trainer.steps=2", "trainer.checkpoint_every=1", "trainer.n_critic=1"]
    )
    workdir = tmp_path_factory.mktemp("run")
    trainer = make_trainer(cfg, workdir, log=lambda line: None)
    trainer.train()
    output = tmp_path_factory.mktemp("exported")
    record = export_run(workdir, "tiny", output)
    return types.SimpleNamespace(
        cfg=cfg,
        nets=trainer.nets,
        workdir=workdir,
        output=output,
        model_dir=output / "tiny",
        record=record,
    )


def run_tool(*args: str, timeout: int = 600, env=None) -> subprocess.CompletedProcess:
    """Runs a tool of tools/ as a user would, in a subprocess."""
    full_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **(env or {}))
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
    )
