"""The identity score curve during training (paper Fig. 6) as a hook of the training loop."""

from __future__ import annotations

import time

import tensorflow as tf

from idcg_tf.errors import UserError
from idcg_tf.evaluation import DIRECTIONS, compiled_embedder, heldout_scores


class IdentityScoreHook:
    """The FaceNet score of `trainer.facenet_score_samples` held-out samples per direction
    (`heldout_scores`) as TensorBoard scalars identity_score/* and a metrics.jsonl record.
    Not eval/*: `tools/evaluate.py --curve` writes those, on its own sample count.

    FaceNet is Model3's loss embedder when the task has one, else loaded at the first call;
    when it or the test split is unavailable, one warning and the hook stays quiet.
    """

    def __init__(self, every: int):
        self.every = every
        self._embed = None  # None: not built yet; False: unavailable

    def _embedder(self, context):
        if self._embed is None:
            embedder = getattr(context.task, "embedder", None)
            if embedder is None:
                from idcg_tf.identity import FaceNetEmbedder

                try:
                    embedder = FaceNetEmbedder(context.task.cfg.task.loss.facenet_weights or None)
                except UserError as exc:
                    context.log(f"warning: no FaceNet score during training ({exc})")
                    self._embed = False
            if embedder is not None:
                self._embed = compiled_embedder(embedder)
        return self._embed or None

    def __call__(self, context, step: int) -> None:
        embed = self._embedder(context)
        cfg = context.task.cfg
        if embed is None:
            return
        start = time.perf_counter()
        try:
            results = heldout_scores(
                context.task.nets, embed, cfg, cfg.trainer.facenet_score_samples, context.log
            )
        except UserError as exc:  # e.g. a run given its data directly: no split to score
            context.log(f"warning: no identity score during training ({exc})")
            self._embed = False
            return
        seconds = time.perf_counter() - start
        record = {"step": step}
        for d in DIRECTIONS:
            record[f"identity_score/{d}"] = results[d]["facenet_score"]
            record[f"identity_score/samples_{d}"] = results[d]["samples"]
        record["identity_score/seconds"] = seconds
        with context.writer.as_default(step=step):
            for d in DIRECTIONS:
                tf.summary.scalar(f"identity_score/{d}", results[d]["facenet_score"])
        context.writer.flush()
        context.append_record(record)
        context.log(
            f"step {step} identity score (FaceNet, held-out samples): "
            + ", ".join(
                f"{d} {results[d]['facenet_score']:.4f} ({results[d]['samples']})"
                for d in DIRECTIONS
            )
            + f" in {seconds:.0f} s"
        )
