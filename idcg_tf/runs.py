"""A run's workdir, read by every side (training resumes from it; evaluation, export, translation
and generation load from it): its config, its metrics log, its checkpoints and which are intact.
What a checkpoint holds is its task's business (`idcg_tf.training.task.Task.restore`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import tensorflow as tf

from idcg_tf import config as config_lib
from idcg_tf.config import Config
from idcg_tf.errors import UserError

METRICS_LOG = "metrics.jsonl"  # one JSON record per line, appended by the training loop


def read_metrics_log(workdir: str | os.PathLike) -> list[dict]:
    """The records of a run's metrics.jsonl, oldest first ([] without one). A line cut short
    by a killed run is skipped."""
    path = Path(workdir) / METRICS_LOG
    records = []
    for line in path.read_text().splitlines() if path.is_file() else []:
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def local_workdir(workdir: str | os.PathLike) -> Path:
    """The workdir as a local path. A URL (gs://, s3://, ...) is refused: the lock, metrics.jsonl
    and samples are written with local file calls, and Path() would turn the URL into a local
    ./gs:/ folder (measured with s3://). A shared file system mounted on every worker works."""
    text = os.fspath(workdir)
    if "://" in text:
        raise UserError(
            f"--workdir {text}: a URL is not supported as a run directory; use a "
            "local path or a shared file system mounted on every worker (NFS, "
            "gcsfuse); data paths (data.*) may be gs:// URLs"
        )
    return Path(text)


def _warn(line: str) -> None:
    import sys

    print(f"warning: {line}", file=sys.stderr, flush=True)


def checkpoint_damage(path: str) -> str | None:
    """What is wrong with checkpoint `path` (e.g. .../ckpt-7), naming the file at fault, or
    None when its index and every tensor in its data files read whole.

    Reads every tensor once: a truncated data file is only found by reading past its end
    (TensorFlow's restore then fails with "Read less bytes than requested").
    """
    name = Path(path).name
    if not Path(f"{path}.index").is_file():
        return f"{name}.index is missing"
    data = sorted(Path(path).parent.glob(f"{name}.data-*"))
    try:
        reader = tf.train.load_checkpoint(path)
        for key in reader.get_variable_to_shape_map():
            reader.get_tensor(key)
    except (tf.errors.OpError, ValueError, IndexError, RuntimeError) as error:
        reason = (
            str(error).strip().splitlines()[0][:120] if str(error).strip() else type(error).__name__
        )
        at_fault = ", ".join(p.name for p in data) or f"{name}.data-*"
        if "index" in reason.lower() or not data:
            at_fault = f"{name}.index" if data else f"{name}.data-* (missing)"
        return f"{at_fault} is damaged ({reason})"
    return None


def _kept_steps(ckpt_dir: Path) -> list[int]:
    """Steps of every checkpoint with any file left, newest first: a checkpoint whose .index
    is gone still counts (as damaged), or a resume would silently start from scratch."""
    steps = set()
    for p in ckpt_dir.glob("ckpt-*"):
        number = p.name[5:].split(".", 1)[0]
        if number.isdigit():
            steps.add(int(number))
    return sorted(steps, reverse=True)


def newest_intact_checkpoint(ckpt_dir: str | Path, warn=_warn) -> str | None:
    """The newest checkpoint of `ckpt_dir` that reads whole, or None when it holds none.

    Damaged newer ones are skipped with one warning naming the damaged file and the one
    used; when every checkpoint is damaged, a one-line UserError names them.
    """
    ckpt_dir = Path(ckpt_dir)
    damaged = []
    for step in _kept_steps(ckpt_dir):
        path = str(ckpt_dir / f"ckpt-{step}")
        problem = checkpoint_damage(path)
        if problem is None:
            if damaged:
                warn(
                    f"{ckpt_dir}: {'; '.join(damaged)}; using ckpt-{step} (step {step}), "
                    "the newest intact checkpoint"
                )
            return path
        damaged.append(problem)
    if damaged:
        raise UserError(f"{ckpt_dir}: no intact checkpoint: {'; '.join(damaged)}")
    return None


def checkpoint_path(workdir: str | Path, step: int | None = None, warn=_warn) -> str:
    """The newest intact checkpoint of a run (see `newest_intact_checkpoint`), or the one of
    `step`, which must be intact."""
    ckpt_dir = local_workdir(workdir) / "checkpoints"
    if not ckpt_dir.is_dir():
        raise UserError(f"{workdir}: no checkpoints/ folder (is this a training workdir?)")
    if step is None:
        latest = newest_intact_checkpoint(ckpt_dir, warn)
        if not latest:
            raise UserError(f"{ckpt_dir}: holds no checkpoint")
        return latest
    path = ckpt_dir / f"ckpt-{step}"
    if step not in _kept_steps(ckpt_dir):
        have = sorted(_kept_steps(ckpt_dir))
        raise UserError(f"{ckpt_dir}: no checkpoint for step {step} (have: {have})")
    problem = checkpoint_damage(str(path))
    if problem:
        raise UserError(f"{ckpt_dir}: {problem}; choose another --step")
    return str(path)


def list_checkpoints(workdir: str | Path) -> list[tuple[int, str]]:
    """(step, path) of every checkpoint kept in a run, oldest first."""
    ckpt_dir = local_workdir(workdir) / "checkpoints"
    found = [(int(p.name[5:-6]), str(p)[:-6]) for p in ckpt_dir.glob("ckpt-*.index")]
    return sorted(found)


def load_config(workdir: str | Path) -> Config:
    path = local_workdir(workdir) / "config.yaml"
    if not path.is_file():
        raise UserError(f"{workdir}: no config.yaml (is this a training workdir?)")
    return config_lib.load(path)
