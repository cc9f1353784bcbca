"""MultiWorkerMirroredStrategy from TF_CONFIG: two worker processes on this machine train the
tiny config together; only the chief keeps checkpoints."""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from conftest import ROOT

TIMEOUT_S = 240  # ~90 s on 2 idle cores; shared CI machines are slower


def _free_ports(count):
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@pytest.mark.slow  # ~100 s: two worker processes; make test-slow (CI runs it)
def test_two_workers_train_and_only_the_chief_checkpoints(tiny_cfg, tmp_path):
    cfg = tiny_cfg(
        "trainer.strategy=multi_worker",
        "trainer.steps=2",
        "trainer.batch_size=4",
        "trainer.checkpoint_every=1",
    )
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    workdir = tmp_path / "run"
    procs = []
    try:
        for index in range(2):
            tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
            env = dict(
                os.environ,
                TF_CONFIG=json.dumps(tf_config),
                TF_CPP_MIN_LOG_LEVEL="2",
                CUDA_VISIBLE_DEVICES="",
            )
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        str(ROOT / "tests" / "multi_worker_main.py"),
                        json.dumps(cfg.to_dict()),
                        str(workdir),
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        deadline = time.monotonic() + TIMEOUT_S
        outputs = [p.communicate(timeout=max(deadline - time.monotonic(), 1)) for p in procs]
    finally:
        for p in procs:  # bounded: whatever is still running is killed
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-3000:]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert [r["chief"] for r in results] == [True, False]
    assert all(r["replicas"] == 2 and r["step"] == 2 and r["finite"] for r in results)
    checkpoints = sorted(p.name for p in (workdir / "checkpoints").iterdir())
    assert "checkpoint" in checkpoints and any(n.startswith("ckpt-2") for n in checkpoints)
    # The non-chief's throw-away copies are gone; only the chief wrote config and metrics.
    assert not list(workdir.glob("tmp-*"))
    assert (workdir / "config.yaml").is_file() and (workdir / "metrics.jsonl").is_file()
