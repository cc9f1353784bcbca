"""Strided 3D (transposed) convolutions: the one place where the video layers compute.

The translators and the video critic build every 3D convolution from these two layers, so how
they compute can change (a faster kernel for CPUs, see `impl`) without touching the models.
`impl="stock"` wraps Keras' Conv3D / Conv3DTranspose; `"auto"` picks the fastest measured path
for the device it runs on (today: stock everywhere).
"""

from __future__ import annotations

import keras

from idcg_tf.config import CONV3D_IMPLS as IMPLS


def _check_impl(impl: str) -> str:
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
    return impl


@keras.saving.register_keras_serializable(package="idcg_tf")
class VideoConv(keras.layers.Layer):
    """3D convolution over (time, height, width), "same" padding.

    Args:
        filters: output channels.
        kernel_size: int or (t, h, w) kernel size.
        strides: int or (t, h, w) strides.
        use_bias: add a bias.
        impl: "stock" (Keras Conv3D) or "auto".

    Example:
        >>> VideoConv(64, 4, (2, 2, 2))(tf.zeros([1, 8, 32, 32, 3])).shape
        TensorShape([1, 4, 16, 16, 64])
    """

    def __init__(self, filters, kernel_size=4, strides=1, use_bias=True, impl="auto", **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.use_bias = use_bias
        self.impl = _check_impl(impl)
        self.conv = keras.layers.Conv3D(filters, kernel_size, strides=strides, padding="same",
                                        use_bias=use_bias, dtype=self.dtype_policy, name="conv")

    def build(self, input_shape):
        self.conv.build(input_shape)

    def call(self, inputs):
        return self.conv(inputs)

    def compute_output_shape(self, input_shape):
        return self.conv.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=self.kernel_size, strides=self.strides,
                      use_bias=self.use_bias, impl=self.impl)
        return config


@keras.saving.register_keras_serializable(package="idcg_tf")
class VideoConvTranspose(keras.layers.Layer):
    """Fractionally strided 3D convolution, "same" padding (output = input * strides).

    Args: as `VideoConv`.

    Example:
        >>> VideoConvTranspose(32, 4, (2, 2, 2))(tf.zeros([1, 2, 4, 4, 64])).shape
        TensorShape([1, 4, 8, 8, 32])
    """

    def __init__(self, filters, kernel_size=4, strides=1, use_bias=True, impl="auto", **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.use_bias = use_bias
        self.impl = _check_impl(impl)
        self.conv = keras.layers.Conv3DTranspose(
            filters, kernel_size, strides=strides, padding="same", use_bias=use_bias,
            dtype=self.dtype_policy, name="conv_transpose")

    def build(self, input_shape):
        self.conv.build(input_shape)

    def call(self, inputs):
        return self.conv(inputs)

    def compute_output_shape(self, input_shape):
        return self.conv.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=self.kernel_size, strides=self.strides,
                      use_bias=self.use_bias, impl=self.impl)
        return config
