"""Keras Adam with TensorFlow's fused update kernel.

Keras 3's Adam updates each variable with about ten elementwise ops (subtract, multiply,
square, sqrt, divide and three assigns), each a pass over the variable's memory; TF's
`ResourceApplyAdam` does the same update in one pass (its share of an iteration, measured:
docs/performance.md).
Same formula as Keras' (epsilon added to sqrt(v), the bias correction folded into the step
size), same slot variables, so checkpoints move between the two; amsgrad, sparse gradients and
other backends take Keras' own path.
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="idcg_tf")
class FusedAdam(keras.optimizers.Adam):
    """`keras.optimizers.Adam` whose dense update is one `ResourceApplyAdam` per variable."""

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad or isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        index = self._get_variable_index(variable)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle,
            m=self._momentums[index].handle,
            v=self._velocities[index].handle,
            beta1_power=tf.pow(beta_1, step),
            beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype),
            use_locking=False,
        )
