"""Evaluation of trained runs: FaceNet identity scores, verification rate, cycle error, the
identity score curve, sample sheets and comparisons (paper Sec. 4.2-4.3)."""

from idcg_tf.evaluation.curve import write_tensorboard_scalars
from idcg_tf.evaluation.evaluate import evaluate_run, evaluate_runs
from idcg_tf.evaluation.options import BATCHNORM_MODES, EvalOptions
from idcg_tf.evaluation.scores import heldout_scores
from idcg_tf.identity.scoring import DIRECTIONS, SCORE_KEYS, compiled_embedder, facenet_scores

__all__ = [
    "BATCHNORM_MODES",
    "DIRECTIONS",
    "SCORE_KEYS",
    "EvalOptions",
    "compiled_embedder",
    "evaluate_run",
    "evaluate_runs",
    "facenet_scores",
    "heldout_scores",
    "write_tensorboard_scalars",
]
