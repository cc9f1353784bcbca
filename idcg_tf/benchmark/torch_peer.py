"""`benchmark train --torch-peer PYTHON`: the PyTorch build of the same iteration
(tools/torch_reference.py, run by another Python that has torch), timed in the same command
so that the ratio compares like with like on a machine whose load changes."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

from idcg_tf.config import Config
from idcg_tf.errors import UserError

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "torch_reference.py"


def trainable_counts(cfg: Config) -> dict:
    """Trainable parameters per network of our build (the PyTorch build must match)."""
    from idcg_tf.models import build_networks

    nets = build_networks(cfg.model)
    count = lambda net: sum(int(v.numpy().size) for v in net.trainable_variables)  # noqa: E731
    return {"image_to_video": count(nets.image_to_video),
            "video_to_image": count(nets.video_to_image),
            "image_critic": count(nets.image_critic), "video_critic": count(nets.video_critic)}


def run_torch_peer(python: str, cfg: Config, ours: dict, iterations: int, warmup: int,
                   log=None) -> dict:
    """Runs the PyTorch reference at our record's batch; returns its record with the ratio
    ours / torch of seconds per iteration (below 1: we are faster)."""
    log = log or (lambda line: None)
    if not SCRIPT.is_file():
        raise UserError(f"{SCRIPT}: the PyTorch reference script is missing")
    spec = {k: v for k, v in cfg.to_dict().items() if k in ("model", "loss", "optimizer",
                                                             "train")}
    with tempfile.TemporaryDirectory(prefix="idcg-torch-") as tmp:
        path = os.path.join(tmp, "spec.json")
        with open(path, "w") as f:
            json.dump(spec, f)
        command = [python, str(SCRIPT), "--spec", path, "--batch", str(ours["batch"]),
                   "--iterations", str(iterations), "--warmup", str(warmup)]
        log("running the PyTorch reference: " + " ".join(command))
        try:
            proc = subprocess.run(command, capture_output=True, text=True)
        except OSError as exc:
            raise UserError(f"--torch-peer {python}: cannot run it ({exc.strerror})") from None
    for line in proc.stderr.splitlines():
        log(line)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"--torch-peer {python}: the PyTorch reference failed ({last})")
    record = json.loads(proc.stdout.strip().splitlines()[-1])
    ours_counts = trainable_counts(cfg)
    if record["param_counts"] != ours_counts:
        raise UserError(f"{SCRIPT}: its networks differ from ours (parameters "
                        f"{record['param_counts']} vs {ours_counts}); fix the reference")
    record["flops_per_iteration"] = ours["flops_per_iteration"]
    record["achieved_flops"] = ours["flops_per_iteration"] / record["iteration_seconds"]
    record["mfu"] = record["achieved_flops"] / ours["peak_flops"]
    record["seconds_ratio_ours_to_torch"] = ours["iteration_seconds"] / record["iteration_seconds"]
    log(f"ours {ours['iteration_seconds']:.2f} s vs PyTorch {record['iteration_seconds']:.2f} s "
        f"per iteration: {record['seconds_ratio_ours_to_torch']:.2f}x the PyTorch time")
    return record
