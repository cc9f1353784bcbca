"""BatchNorm: Keras' BatchNormalization whose training-mode pass is TF's fused kernel where
that kernel is the faster, and wherever a gradient tape records the pass."""

from __future__ import annotations

import keras
import tensorflow as tf

from idcg_tf import cpu

# cuDNN's fused batch norm needs epsilon above this; smaller ones take Keras' own formula.
_FUSED_MIN_EPSILON = 1.001e-5


def fused_kernel_is_faster() -> bool:
    """Whether TF's fused batch norm is the faster training pass on this machine: on a GPU
    (cuDNN), with TF's own CPU kernels, and where oneDNN runs its AVX-512 code. oneDNN's AVX2
    code (a CPU without AVX-512, or ONEDNN_MAX_CPU_ISA=AVX2) runs its forward pass several times
    slower than Keras' composed ops (docs/performance.md)."""
    return cpu.tf_kernels() != "onednn" or cpu.onednn_avx512()


def gradient_recorded() -> bool:
    """Whether a gradient tape records the ops being built now. Such a pass takes the fused op
    even where `fused_kernel_is_faster()` is false: its one gradient op needs fewer of the
    pass' tensors kept for the backward pass than Keras' composed ops do, which decides peak
    memory; the forward-only passes take Keras' ops there."""
    from tensorflow.python.eager import record  # the test tf.custom_gradient makes

    return record.could_possibly_record()


@keras.saving.register_keras_serializable(package="idcg_tf")
class BatchNorm(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` (same arguments, weights and moving statistics) that
    normalises a training batch with one fused op (`FusedBatchNormV3`: oneDNN on CPU, cuDNN on
    GPU) and its one gradient op, where Keras 3 composes a dozen element-wise and reduction ops
    and their gradients; Keras' own ops for the forward-only passes (no gradient tape recording)
    where they are the faster (`fused_kernel_is_faster`).

    It computes the same: the batch's mean and biased variance normalise it and update the
    moving statistics as Keras does. The fused op sees one replica's batch, so a
    `synchronized=True` layer takes Keras' own path when a strategy runs more than one replica
    (statistics summed over replicas); with one replica the two are the same. Inference,
    masks, renorm, float64, an axis other than the last and inputs of rank other than 4 or 5
    also take Keras' own path, so exports do not change.

    Example:
        >>> BatchNorm(synchronized=True)(tf.zeros([2, 4, 4, 3]), training=True).shape
        TensorShape([2, 4, 4, 3])
    """

    def call(self, inputs, training=None, mask=None):
        if training and self.trainable and mask is None and self._fusable(inputs):
            return self._fused_training_call(inputs)
        return super().call(inputs, training=training, mask=mask)

    def _fusable(self, inputs) -> bool:
        rank = len(inputs.shape)
        if (
            keras.backend.backend() != "tensorflow"
            or self.renorm
            or rank not in (4, 5)
            or self.axis not in (-1, rank - 1)
            or self.epsilon < _FUSED_MIN_EPSILON
            or inputs.dtype not in (tf.float16, tf.bfloat16, tf.float32)  # the op's types
            or not (gradient_recorded() or fused_kernel_is_faster())
        ):
            return False
        if self.synchronized:
            replica = tf.distribute.get_replica_context()
            if replica is not None and replica.num_replicas_in_sync > 1:
                return False
        return True

    def _fused_training_call(self, inputs):
        x = tf.cast(inputs, tf.float32)  # as Keras: statistics in float32 at least
        channels = x.shape[-1]
        shape = tf.shape(x)
        if len(x.shape) == 5:
            # (N, T, H, W, C) as (N*T, H, W, C): the same statistics per channel, and oneDNN
            # runs the 4-D op where TF's 5-D one falls back to its slower Eigen kernel.
            x = tf.reshape(x, tf.concat([[-1], shape[2:]], axis=0))
        scale = tf.cast(self.gamma, tf.float32) if self.scale else tf.ones([channels])
        offset = tf.cast(self.beta, tf.float32) if self.center else tf.zeros([channels])
        empty = tf.zeros([0], tf.float32)  # no running statistics in: training mode
        y, mean, unbiased_variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=x,
            scale=scale,
            offset=offset,
            mean=empty,
            variance=empty,
            epsilon=self.epsilon,
            exponential_avg_factor=1.0,
            data_format="NHWC",
            is_training=True,
        )
        y = tf.reshape(y, shape)
        # The op normalises by the biased variance but returns it with Bessel's correction
        # n / max(n - 1, 1); Keras' moving variance takes the biased one.
        n = tf.cast(tf.size(x) // channels, tf.float32)
        variance = unbiased_variance * tf.maximum(n - 1.0, 1.0) / n
        momentum = self.momentum
        moving_mean = tf.cast(self.moving_mean, tf.float32)
        moving_variance = tf.cast(self.moving_variance, tf.float32)
        self.moving_mean.assign(moving_mean * momentum + mean * (1.0 - momentum))
        self.moving_variance.assign(moving_variance * momentum + variance * (1.0 - momentum))
        return tf.cast(y, self.compute_dtype)
