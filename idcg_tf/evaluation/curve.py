"""The identity score curve (paper Fig. 6): FaceNet scores of every kept checkpoint of a run,
written to its TensorBoard as eval/facenet_score_*."""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from idcg_tf.config import Config
from idcg_tf.errors import UserError
from idcg_tf.evaluation.options import EvalOptions
from idcg_tf.evaluation.scores import read_selection, score_checkpoint
from idcg_tf.evaluation.selection import EvalData, Log
from idcg_tf.identity.scoring import DIRECTIONS, SCORE_KEYS, Embed
from idcg_tf.runs import list_checkpoints
from idcg_tf.translation.task import TranslationTask

TENSORBOARD_PREFIX = "eval/"


def write_tensorboard_scalars(writer, step: int, values: dict) -> None:
    """Writes {name: value} as `eval/<name>` scalars at `step` (the tags the curve uses)."""
    with writer.as_default(step=step):
        for name, value in values.items():
            tf.summary.scalar(TENSORBOARD_PREFIX + name, value)
    writer.flush()


def identity_curve(
    workdir,
    cfg: Config,
    data: EvalData,
    embed: Embed,
    options: EvalOptions,
    log: Log,
    known: dict | None = None,
) -> list[dict]:
    """FaceNet scores of every kept checkpoint, oldest first (Fig. 6), also written to the run's
    TensorBoard as eval/facenet_score_* at each step. `known` maps steps already scored on
    the same samples to their results, which are reused. The samples are read from the
    shards once for all checkpoints; a damaged checkpoint is skipped with a line."""
    samples = options.curve_samples or options.samples
    known = (known or {}) if samples == options.samples else {}
    writer = tf.summary.create_file_writer(str(Path(workdir) / "tensorboard"))
    curve = []
    selection = None  # the samples, read from the shards once for every checkpoint
    try:
        for step, _ in list_checkpoints(workdir):
            if step in known:
                results = known[step]
            else:
                try:
                    task, _ = TranslationTask.from_run(workdir, step, cfg)
                except UserError as exc:  # a damaged checkpoint: the others still count
                    log(f"  curve: step {step}: skipped ({exc})")
                    continue
                if selection is None:
                    selection = read_selection(cfg, data, samples, options)
                results, _ = score_checkpoint(
                    task.nets, embed, cfg, data, samples, options, 0, selection
                )
            point = {
                "step": step,
                **{key: results[d]["facenet_score"] for key, d in zip(SCORE_KEYS, DIRECTIONS)},
            }
            write_tensorboard_scalars(writer, step, {k: point[k] for k in SCORE_KEYS})
            log(
                f"  curve: step {step}: "
                + ", ".join(
                    f"{d.replace('_', '-')} {point[key]:.4f}"
                    for key, d in zip(SCORE_KEYS, DIRECTIONS)
                )
            )
            curve.append(point)
    finally:
        writer.close()
    return curve
