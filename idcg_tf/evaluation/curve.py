"""The identity score curve (paper Fig. 6): FaceNet scores of every kept checkpoint of a run,
written to its TensorBoard as eval/facenet_score_*."""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from idcg_tf.config import Config
from idcg_tf.evaluation.options import EvalOptions
from idcg_tf.evaluation.scores import score_checkpoint
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
    the same samples to their results, which are reused."""
    samples = options.curve_samples or options.samples
    known = (known or {}) if samples == options.samples else {}
    writer = tf.summary.create_file_writer(str(Path(workdir) / "tensorboard"))
    curve = []
    try:
        for step, _ in list_checkpoints(workdir):
            if step in known:
                results = known[step]
            else:
                task, _ = TranslationTask.from_run(workdir, step, cfg)
                results, _ = score_checkpoint(task.nets, embed, cfg, data, samples, options, 0)
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
