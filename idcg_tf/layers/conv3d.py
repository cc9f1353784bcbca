"""Strided 3D (transposed) convolutions: the one place where the video layers compute.

The translators and the video critic build every 3D convolution from these two layers, so how
they compute can change without touching the models. The weights always live in the wrapped
Keras Conv3D / Conv3DTranspose (same variables, same checkpoints for every `impl`). `impl`
("auto", "stock" or "custom": 2D convolutions over temporal taps, `idcg_tf.ops.conv3d_taps`)
is chosen per call shape by `idcg_tf.ops.conv_autotune`, as for the 2D layers
(`idcg_tf.layers.conv2d`); "auto" also times a (transposed) convolution as one matmul
(`idcg_tf.ops.conv3d_matmul`) where its strides divide its kernel, TF's convolution with its
filter gradients as one 2D filter gradient per temporal tap, and, over few input channels, with
its filter gradients on the input padded first (`idcg_tf.ops.conv3d_filter_grads`). Decided
when the layer is called (traced).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from idcg_tf.ops import conv_autotune


def _tf_strides(strides) -> tuple[int, int, int]:
    return (strides,) * 3 if isinstance(strides, int) else tuple(strides)


# Per kind of layer (the keys of conv_autotune.CANDIDATES, which also holds the ops of the
# custom form): the Keras layer that holds the weights, and its name (a checkpoint path part).
_STOCK = {
    "conv": (keras.layers.Conv3D, "conv"),
    "transpose": (keras.layers.Conv3DTranspose, "conv_transpose"),
}


class _VideoConvBase(keras.layers.Layer):
    """The two layers' shared body: the weights live in the wrapped Keras layer `conv`."""

    _kind: str  # "conv" or "transpose"

    def __init__(self, filters, kernel_size=4, strides=1, use_bias=True, impl="auto", **kwargs):
        super().__init__(**kwargs)
        self.impl = conv_autotune.check_impl(impl)
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.use_bias = use_bias
        stock, name = _STOCK[self._kind]
        self.conv = stock(
            filters,
            kernel_size,
            strides=strides,
            padding="same",
            use_bias=use_bias,
            dtype=self.dtype_policy,
            name=name,
        )

    def build(self, input_shape):
        self.conv.build(input_shape)

    def implementation(self, input_shape, dtype="float32") -> str:
        """The implementation a call on inputs of `input_shape` runs (a key of
        `conv_autotune.CANDIDATES[kind]`: "stock", "taps", "matmul", "padded" or "tap_filters")."""
        return conv_autotune.resolve(
            self.impl,
            self._kind,
            input_shape,
            self.conv.kernel.shape,
            _tf_strides(self.strides),
            dtype,
        )

    def call(self, inputs):
        impl = self.implementation(inputs.shape, inputs.dtype)
        if impl == "stock":
            return self.conv(inputs)
        kernel = tf.cast(self.conv.kernel, inputs.dtype)
        op = conv_autotune.CANDIDATES[self._kind][impl]
        y = op(inputs, kernel, _tf_strides(self.strides))
        if self.use_bias:
            y = y + tf.cast(self.conv.bias, y.dtype)
        return y

    def compute_output_shape(self, input_shape):
        return self.conv.compute_output_shape(input_shape)

    def get_config(self):
        names = ("filters", "kernel_size", "strides", "use_bias", "impl")
        return {**super().get_config(), **{name: getattr(self, name) for name in names}}


@keras.saving.register_keras_serializable(package="idcg_tf")
class VideoConv(_VideoConvBase):
    """3D convolution over (time, height, width), "same" padding.

    Args:
        filters: output channels.
        kernel_size: int or (t, h, w) kernel size.
        strides: int or (t, h, w) strides.
        use_bias: add a bias.
        impl: "auto", "stock" or "custom" (see the module docstring).

    Example:
        >>> VideoConv(64, 4, (2, 2, 2))(tf.zeros([1, 8, 32, 32, 3])).shape
        TensorShape([1, 4, 16, 16, 64])
    """

    _kind = "conv"


@keras.saving.register_keras_serializable(package="idcg_tf")
class VideoConvTranspose(_VideoConvBase):
    """Fractionally strided 3D convolution, "same" padding (output = input * strides).

    Args: as `VideoConv`.

    Example:
        >>> VideoConvTranspose(32, 4, (2, 2, 2))(tf.zeros([1, 2, 4, 4, 64])).shape
        TensorShape([1, 4, 8, 8, 32])
    """

    _kind = "transpose"
