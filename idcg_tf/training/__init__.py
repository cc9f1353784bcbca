"""Training: distribution strategies, the task interface and the one training loop."""

from idcg_tf.training.loop import Hook, Trainer, TrainingDiverged
from idcg_tf.training.strategy import make_strategy
from idcg_tf.training.task import Task, Update

__all__ = ["make_strategy", "Hook", "Task", "Trainer", "TrainingDiverged", "Update"]
