"""The learning-rate schedule: constant, then (optionally) a linear decay to zero."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="idcg_tf")
class LinearDecayTail(keras.optimizers.schedules.LearningRateSchedule):
    """`learning_rate` up to update `decay_start`, then linearly down to 0 at update `total`
    (CycleGAN's schedule, Zhu et al. 2017 Sec. 4: constant for the first half, linear decay
    to zero over the second). With `decay_start >= total` the rate stays constant.

    The optimizer calls it with its own update counter, so resumed runs continue on the same
    curve (the counter is in the checkpoint).

    Args:
        learning_rate: the rate before the decay.
        decay_start: update at which the decay begins.
        total: update at which the rate reaches 0.
    """

    def __init__(self, learning_rate: float, decay_start: int, total: int):
        self.learning_rate = float(learning_rate)
        self.decay_start = int(decay_start)
        self.total = int(total)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        span = max(self.total - self.decay_start, 1)
        fraction = ops.clip((step - self.decay_start) / span, 0.0, 1.0)
        return self.learning_rate * (1.0 - fraction)

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "decay_start": self.decay_start,
            "total": self.total,
        }


def learning_rate(opt_cfg, steps: int, updates_per_step: int = 1):
    """What an optimizer stepping `updates_per_step` times per generator iteration is given:
    a float (no decay) or a `LinearDecayTail` over `steps` iterations."""
    if opt_cfg.decay_start >= 1.0:
        return opt_cfg.learning_rate
    total = steps * updates_per_step
    return LinearDecayTail(opt_cfg.learning_rate, round(opt_cfg.decay_start * total), total)
