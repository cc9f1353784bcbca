"""A run's workdir, read by every side (training resumes from it; evaluation, export, translation
and generation load from it): its config, its metrics log, its checkpoints and which are intact.
What a checkpoint holds is its task's business (`idcg_tf.training.task.Task.restore_run`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import tensorflow as tf

from idcg_tf import config as config_lib
from idcg_tf.config import Config
from idcg_tf.config_fields import parent
from idcg_tf.errors import UserError
from idcg_tf.reporting import log_to_stderr

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
            "gcsfuse); data paths (task.data.*) may be gs:// URLs"
        )
    return Path(text)


def _warn(line: str) -> None:
    log_to_stderr(f"warning: {line}")


# What a restore from a damaged checkpoint raises: a missing or unreadable index, a data file
# cut short ("Read less bytes than requested"), a tensor that does not parse.
RESTORE_ERRORS = (tf.errors.OpError, ValueError, IndexError, RuntimeError, AssertionError)


def _damage(path: str, error: BaseException) -> str:
    """`error` of restoring checkpoint `path` as one line naming the file at fault."""
    name = Path(path).name
    if not Path(f"{path}.index").is_file():
        return f"{name}.index is missing"
    data = sorted(Path(path).parent.glob(f"{name}.data-*"))
    text = str(error).strip()
    reason = text.splitlines()[0][:120] if text else type(error).__name__
    at_fault = ", ".join(p.name for p in data) or f"{name}.data-*"
    if "index" in reason.lower() or not data:
        at_fault = f"{name}.index" if data else f"{name}.data-* (missing)"
    return f"{at_fault} is damaged ({reason})"


def _kept_steps(ckpt_dir: Path) -> list[int]:
    """Steps of every checkpoint with any file left, newest first: a checkpoint whose .index
    is gone still counts (as damaged), or a resume would silently start from scratch."""
    steps = set()
    for p in ckpt_dir.glob("ckpt-*"):
        number = p.name[5:].split(".", 1)[0]
        if number.isdigit():
            steps.add(int(number))
    return sorted(steps, reverse=True)


def checkpoints_dir(workdir: str | Path, step: int | None = None) -> Path:
    """A run's checkpoints/ folder, checked to hold a checkpoint (of `step`, when given):
    a one-line UserError otherwise. Reads no checkpoint."""
    ckpt_dir = local_workdir(workdir) / "checkpoints"
    if not ckpt_dir.is_dir():
        raise UserError(f"{workdir}: no checkpoints/ folder (is this a training workdir?)")
    kept = _kept_steps(ckpt_dir)
    if not kept:
        raise UserError(f"{ckpt_dir}: holds no checkpoint")
    if step is not None and step not in kept:
        raise UserError(f"{ckpt_dir}: no checkpoint for step {step} (have: {sorted(kept)})")
    return ckpt_dir


def restore_newest(ckpt_dir: str | Path, restore, step: int | None = None, warn=_warn):
    """Restores a checkpoint of `ckpt_dir` with `restore(path)`, reading it once: the one of
    `step`, else the newest, and when that fails (a damaged file), the next older one, and so
    on; the damaged ones are named in one warning with the one used. Returns the path
    restored, or None when the folder holds no checkpoint. A one-line UserError when the one
    of `step`, or every one, is damaged."""
    ckpt_dir = Path(ckpt_dir)
    damaged = []
    for kept in [step] if step is not None else _kept_steps(ckpt_dir):
        path = str(ckpt_dir / f"ckpt-{kept}")
        try:
            restore(path)
        except RESTORE_ERRORS as error:
            damaged.append(_damage(path, error))
            continue
        if damaged:
            warn(
                f"{ckpt_dir}: {'; '.join(damaged)}; using ckpt-{kept} (step {kept}), "
                "the newest intact checkpoint"
            )
        return path
    if damaged and step is not None:
        raise UserError(f"{ckpt_dir}: {damaged[0]}; choose another --step")
    if damaged:
        raise UserError(f"{ckpt_dir}: no intact checkpoint: {'; '.join(damaged)}")
    return None


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


def check_unchanged(workdir: str | Path, cfg: Config, keys: tuple[str, ...]) -> None:
    """Refuses (one line) to resume a run whose saved config.yaml differs from `cfg` in
    task.type or in any of `keys` (dotted keys or whole sections: what shapes the checkpoint)."""
    saved = Path(workdir) / "config.yaml"
    if not saved.is_file():
        return
    old = json.loads(json.dumps(config_lib.load(saved).to_dict()))
    new = json.loads(json.dumps(cfg.to_dict()))

    def value(tree, key):
        node, leaf = parent(tree, key)
        return None if node is None else node.get(leaf)

    expanded = ["task.type"]
    for key in keys:
        section = value(new, key)
        expanded += [f"{key}.{k}" for k in section] if isinstance(section, dict) else [key]
    for key in expanded:
        was, now = value(old, key), value(new, key)
        if was != now:
            raise UserError(
                f"{workdir}: {key} differs from the run's saved config.yaml "
                f"({was!r} vs {now!r}); use a new --workdir"
            )
