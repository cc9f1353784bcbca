"""Training: distribution strategies, the IdCycleGAN train steps and the run loop."""

from idcg_tf.training.strategy import make_strategy
from idcg_tf.training.trainer import Trainer, TrainingDiverged

__all__ = ["make_strategy", "Trainer", "TrainingDiverged"]
