"""Loading a trained run's networks from its workdir (for evaluation, export, translation)."""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from idcg_tf import config as config_lib
from idcg_tf.config import Config
from idcg_tf.errors import UserError
from idcg_tf.models import Networks, build_networks


def checkpoint_path(workdir: str | Path, step: int | None = None) -> str:
    """The latest checkpoint of a run, or the one of `step`."""
    ckpt_dir = Path(workdir) / "checkpoints"
    if not ckpt_dir.is_dir():
        raise UserError(f"{workdir}: no checkpoints/ folder (is this a training workdir?)")
    if step is None:
        latest = tf.train.latest_checkpoint(str(ckpt_dir))
        if not latest:
            raise UserError(f"{ckpt_dir}: holds no checkpoint")
        return latest
    path = ckpt_dir / f"ckpt-{step}"
    if not Path(f"{path}.index").is_file():
        have = sorted(int(p.name[5:-6]) for p in ckpt_dir.glob("ckpt-*.index"))
        raise UserError(f"{ckpt_dir}: no checkpoint for step {step} (have: {have})")
    return str(path)


def list_checkpoints(workdir: str | Path) -> list[tuple[int, str]]:
    """(step, path) of every checkpoint kept in a run, oldest first."""
    ckpt_dir = Path(workdir) / "checkpoints"
    found = [(int(p.name[5:-6]), str(p)[:-6]) for p in ckpt_dir.glob("ckpt-*.index")]
    return sorted(found)


def load_config(workdir: str | Path) -> Config:
    path = Path(workdir) / "config.yaml"
    if not path.is_file():
        raise UserError(f"{workdir}: no config.yaml (is this a training workdir?)")
    return config_lib.load(path)


def checkpoint_variables(model: keras.Model) -> dict:
    """Every variable of a built model keyed by its path inside it, for `tf.train.Checkpoint`.

    tf.train.Checkpoint does not descend into the Python lists in which Keras 3 layers keep
    their sublayers (e.g. `VideoDecoder.convs`), so checkpointing the model object saves
    almost nothing (the optimizer's slots carry the trainable weights of a resumed run along,
    but not BatchNorm statistics, and a generator restored without its optimizer gets none).
    Naming each variable makes the checkpoint complete and `assert_existing_objects_matched`
    meaningful.
    """
    variables = {}
    for v in model.variables:
        key = v.path.split("/", 1)[-1]  # without the model's own name
        if key in variables:
            raise ValueError(f"{model.name}: two variables at {key!r}; name the sublayers")
        variables[key] = v
    return variables


def weights_checkpoint(nets: Networks) -> tf.train.Checkpoint:
    """Every variable of the four networks, keyed by network and variable path."""
    return tf.train.Checkpoint(**{
        name: checkpoint_variables(getattr(nets, name))
        for name in ("image_to_video", "video_to_image", "image_critic", "video_critic")})


def load_networks(workdir: str | Path, step: int | None = None,
                  cfg: Config | None = None) -> tuple[Config, Networks, int]:
    """Builds the run's four networks and restores their weights; returns (cfg, nets, step)."""
    cfg = cfg or load_config(workdir)
    path = checkpoint_path(workdir, step)
    nets = build_networks(cfg.model)
    step_var = tf.Variable(0, dtype=tf.int64)
    ckpt = tf.train.Checkpoint(step=step_var, weights=weights_checkpoint(nets))
    ckpt.restore(path).expect_partial().assert_existing_objects_matched()
    return cfg, nets, int(step_var.numpy())
