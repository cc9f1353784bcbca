"""`benchmark train --torch-peer PYTHON`: the PyTorch build of the same iteration
(tools/torch_reference.py, run by another Python that has torch).

The two builds alternate, one iteration each, in the same command: on a machine whose load
changes by the minute (shared CPUs) each pair sees about the same load, and the median of the
per-pair ratios is far steadier than a ratio of two runs made minutes apart."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from idcg_tf import allocator
from idcg_tf.config import Config
from idcg_tf.errors import UserError

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "torch_reference.py"


def trainable_counts(cfg: Config) -> dict:
    """Trainable parameters per network of our build (the PyTorch build must match), read off
    `weightless_networks`: no weights in the process whose memory is compared with the peer's."""
    from idcg_tf.benchmark.flops import weightless_networks

    with weightless_networks(cfg.task.model) as nets:
        count = lambda net: sum(v.shape.num_elements() for v in net.trainable_variables)  # noqa: E731
        return {
            "image_to_video": count(nets.image_to_video),
            "video_to_image": count(nets.video_to_image),
            "image_critic": count(nets.image_critic),
            "video_critic": count(nets.video_critic),
        }


class TorchPeer:
    """The PyTorch reference in a child process, built once, one iteration per `iteration()`."""

    def __init__(self, python: str, cfg: Config, batch: int, log=None, threads: int = 2):
        self.python = python
        self.log = log or (lambda line: None)
        if not SCRIPT.is_file():
            raise UserError(f"{SCRIPT}: the PyTorch reference script is missing")
        if not shutil.which(python):
            raise UserError(
                f"--torch-peer: {python}: no such Python interpreter (docs/performance.md "
                "says how to make a PyTorch venv)"
            )
        spec = {k: v for k, v in cfg.to_dict().items() if k in ("task", "trainer", "optimizer")}
        self._tmp = tempfile.TemporaryDirectory(prefix="idcg-torch-")
        path = os.path.join(self._tmp.name, "spec.json")
        with open(path, "w") as f:
            json.dump(spec, f)
        command = [
            python,
            str(SCRIPT),
            "--spec",
            path,
            "--batch",
            str(batch),
            "--serve",
            "--threads",
            str(threads),
        ]
        self.log("starting the PyTorch reference: " + " ".join(command))
        try:
            self.proc = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                # PyTorch as its users run it: glibc's malloc, not the jemalloc we relaunched with.
                env=allocator.peer_environment(),
            )
        except OSError as exc:
            raise UserError(f"--torch-peer {python}: cannot run it ({exc.strerror})") from None
        self.info = self._read()
        ours = trainable_counts(cfg)
        if self.info["param_counts"] != ours:
            self.close()
            raise UserError(
                f"{SCRIPT}: its networks differ from ours (parameters "
                f"{self.info['param_counts']} vs {ours}); fix the reference"
            )

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read().strip().splitlines() or ["no output"]
            raise UserError(f"--torch-peer {self.python}: the PyTorch reference failed ({err[-1]})")
        return json.loads(line)

    def iteration(self) -> dict:
        """Runs one PyTorch iteration; returns {"seconds", "finite", "peak_rss_bytes"}."""
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        return self._read()

    def infer(self, generator: str, batch: int, repeats: int) -> dict:
        """Times the peer's eval forward of one translator; returns {"p50_ms", "p90_ms"}."""
        self.proc.stdin.write(f"infer {generator} {batch} {repeats}\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)
        self._tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
