"""Evaluation of trained runs: FaceNet identity scores, verification rate, cycle error, the
identity score curve, sample sheets and comparisons (paper Sec. 4.2-4.3)."""

from idcg_tf.evaluation.evaluate import (DIRECTIONS, EvalOptions, compiled_embedder,
                                         evaluate_runs, facenet_scores, heldout_scores,
                                         write_tensorboard_scalars)

__all__ = ["DIRECTIONS", "EvalOptions", "compiled_embedder", "evaluate_runs", "facenet_scores",
           "heldout_scores", "write_tensorboard_scalars"]
