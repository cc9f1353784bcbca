"""Residual block of the encoders (paper Sec. 3.1, after CycleGAN's generator)."""

from __future__ import annotations

import keras

from idcg_tf.layers.batchnorm import BatchNorm
from idcg_tf.layers.conv2d import ImageConv
from idcg_tf.layers.conv3d import VideoConv


@keras.saving.register_keras_serializable(package="idcg_tf")
class ResidualBlock(keras.layers.Layer):
    """BN-ReLU-Conv3x3-BN-ReLU-Conv3x3 plus the identity shortcut, in 2D or 3D.

    Args:
        rank: 2 for images (N, H, W, C), 3 for videos (N, T, H, W, C).
        impl: 3D convolution implementation (see `idcg_tf.layers.conv3d`).

    Example:
        >>> ResidualBlock(rank=2)(tf.zeros([1, 8, 8, 16])).shape
        TensorShape([1, 8, 8, 16])
    """

    def __init__(self, rank=2, impl="auto", **kwargs):
        super().__init__(**kwargs)
        if rank not in (2, 3):
            raise ValueError(f"rank must be 2 or 3, got {rank}")
        self.rank = rank
        self.impl = impl
        self.bn1 = BatchNorm(synchronized=True, dtype=self.dtype_policy, name="bn1")
        self.bn2 = BatchNorm(synchronized=True, dtype=self.dtype_policy, name="bn2")
        self.conv1 = self.conv2 = None

    def _conv(self, filters, name):
        if self.rank == 2:
            return ImageConv(
                filters, 3, padding="same", impl=self.impl, dtype=self.dtype_policy, name=name
            )
        return VideoConv(filters, 3, 1, impl=self.impl, dtype=self.dtype_policy, name=name)

    def build(self, input_shape):
        filters = input_shape[-1]
        self.conv1 = self._conv(filters, "conv1")
        self.conv2 = self._conv(filters, "conv2")
        self.bn1.build(input_shape)
        self.conv1.build(input_shape)
        self.bn2.build(input_shape)
        self.conv2.build(input_shape)

    def call(self, inputs, training=False):
        x = keras.activations.relu(self.bn1(inputs, training=training))
        x = self.conv1(x)
        x = keras.activations.relu(self.bn2(x, training=training))
        return inputs + self.conv2(x)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(rank=self.rank, impl=self.impl)
        return config
