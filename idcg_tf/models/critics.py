"""WGAN-GP critics for images (C_X) and videos (C_Y): paper Fig. 2c/2d."""

from __future__ import annotations

import keras

from idcg_tf.config import time_strides
from idcg_tf.layers import VideoConv


class _Critic(keras.Model):
    """Strided convolutions, LayerNorm + LeakyReLU(0.2) (no norm after the first: WGAN-GP
    forbids BatchNorm, and LayerNorm keeps each sample's gradient its own), flatten, Dense(1)."""

    rank = 2

    def __init__(self, widths, kernel_size=4, **kwargs):
        super().__init__(**kwargs)
        self.widths = tuple(widths)
        self.kernel_size = kernel_size
        self.convs = [self._conv(w, i) for i, w in enumerate(self.widths)]
        # Normalise over every feature of a sample (all axes but the batch).
        axes = list(range(1, self.rank + 2))
        self.norms = [keras.layers.LayerNormalization(axis=axes, dtype=self.dtype_policy,
                                                      name=f"ln{i}")
                      for i in range(1, len(self.widths))]
        self.flatten = keras.layers.Flatten(dtype=self.dtype_policy)
        self.linear = keras.layers.Dense(1, dtype=self.dtype_policy, name="linear")

    def build(self, input_shape):
        shape = tuple(input_shape)
        for i, conv in enumerate(self.convs):
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
            if i > 0:
                self.norms[i - 1].build(shape)
        self.linear.build(self.flatten.compute_output_shape(shape))

    def call(self, inputs):
        x = inputs
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i > 0:
                x = self.norms[i - 1](x)
            x = keras.activations.leaky_relu(x, negative_slope=0.2)
        return self.linear(self.flatten(x))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def get_config(self):
        config = super().get_config()
        config.update(widths=list(self.widths), kernel_size=self.kernel_size)
        return config


@keras.saving.register_keras_serializable(package="idcg_tf")
class ImageCritic(_Critic):
    """C_X: (N, r, r, 3) -> (N, 1) unbounded score.

    Args:
        widths: widths of the stride-2 Conv2D layers, e.g. (128, 256, 512, 1024).
        kernel_size: kernel of the convolutions.
    """

    rank = 2

    def _conv(self, width, i):
        return keras.layers.Conv2D(width, self.kernel_size, strides=2, padding="same",
                                   dtype=self.dtype_policy, name=f"conv{i}")


@keras.saving.register_keras_serializable(package="idcg_tf")
class VideoCritic(_Critic):
    """C_Y: (N, l, r, r, 3) -> (N, 1) unbounded score, spatio-temporal convolutions.

    Args:
        widths: widths of the stride-2 Conv3D layers, e.g. (64, 128, 256, 512).
        frames: l; the first layers also stride over time while it divides.
        kernel_size: kernel of the convolutions.
        impl: 3D convolution implementation (see `idcg_tf.layers.conv3d`).
    """

    rank = 3

    def __init__(self, widths, frames=32, kernel_size=4, impl="auto", **kwargs):
        self.frames = frames
        self.impl = impl
        self.time_strides = time_strides(frames, len(widths))
        super().__init__(widths, kernel_size, **kwargs)

    def _conv(self, width, i):
        strides = (2 if i < self.time_strides else 1, 2, 2)
        return VideoConv(width, self.kernel_size, strides, impl=self.impl,
                         dtype=self.dtype_policy, name=f"conv{i}")

    def get_config(self):
        config = super().get_config()
        config.update(frames=self.frames, impl=self.impl)
        return config
