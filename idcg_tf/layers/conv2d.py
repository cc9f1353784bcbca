"""Strided 2D (transposed) convolutions of the image encoder, image decoder, image critic and
the 2D residual blocks: Keras' Conv2D / Conv2DTranspose (same variables, same checkpoints),
whose convolution `impl` ("auto", "stock" or "custom": the whole convolution as one matmul,
`idcg_tf.ops.conv2d_matmul`) is chosen per call shape by `idcg_tf.ops.conv_autotune`, as for
the 3D layers (`idcg_tf.layers.conv3d`). The custom form applies where every stride divides
its kernel and the shapes are static; elsewhere the layer runs Keras' own op.
"""

from __future__ import annotations

import keras

from idcg_tf.ops import conv2d_matmul, conv2d_subpixel, conv_autotune, litert_trace


def _applies(layer, shape) -> bool:
    """Whether the custom forms apply to a call on `shape`: static H, W, C, "same" padding
    without output_padding, channels last, no dilation or groups, each stride dividing its
    kernel size."""
    return (
        len(shape) == 4
        and all(d is not None for d in shape[1:])
        and layer.padding == "same"
        and getattr(layer, "output_padding", None) is None
        and layer.data_format == "channels_last"
        and tuple(layer.dilation_rate) == (1, 1)
        and getattr(layer, "groups", 1) == 1
        and conv2d_matmul.supported(layer.kernel.shape, layer.strides)
    )


def _choose(layer, kind: str, input_shape, dtype) -> str:
    """The implementation ("stock" or "matmul") of a call on `input_shape`; "matmul" only where
    it applies (`_applies`)."""
    shape = tuple(input_shape)
    applies = _applies(layer, shape)
    return conv_autotune.resolve(
        layer.impl, kind, shape, layer.kernel.shape, layer.strides, dtype, applies=applies
    )


class _WithImpl:
    """The `impl` argument both layers add to their Keras base class."""

    def __init__(self, *args, impl="auto", **kwargs):
        super().__init__(*args, **kwargs)
        self.impl = conv_autotune.check_impl(impl)

    def get_config(self):
        return {**super().get_config(), "impl": self.impl}


@keras.saving.register_keras_serializable(package="idcg_tf")
class ImageConv(_WithImpl, keras.layers.Conv2D):
    """keras.layers.Conv2D with `impl` (see the module docstring).

    Example:
        >>> ImageConv(8, 4, strides=2, padding="same")(tf.zeros([1, 8, 8, 3])).shape
        TensorShape([1, 4, 4, 8])
    """

    def convolution_op(self, inputs, kernel):
        if _choose(self, "conv2d", inputs.shape, inputs.dtype) == "matmul":
            return conv2d_matmul.conv2d_matmul(inputs, kernel, tuple(self.strides))
        return super().convolution_op(inputs, kernel)


@keras.saving.register_keras_serializable(package="idcg_tf")
class ImageConvTranspose(_WithImpl, keras.layers.Conv2DTranspose):
    """keras.layers.Conv2DTranspose with `impl` (see the module docstring).

    Example:
        >>> ImageConvTranspose(8, 4, strides=2, padding="same")(tf.zeros([1, 4, 4, 3])).shape
        TensorShape([1, 8, 8, 8])
    """

    def call(self, inputs):
        strides = tuple(self.strides)
        if litert_trace.active() and _applies(self, tuple(inputs.shape)):
            # The LiteRT trace (`idcg_tf.deploy.litert`): one 2D convolution, depth-to-space.
            y = conv2d_subpixel.conv2d_transpose_subpixel(inputs, self.kernel, strides)
        elif _choose(self, "transpose2d", inputs.shape, inputs.dtype) == "matmul":
            y = conv2d_matmul.conv2d_transpose_matmul(inputs, self.kernel, strides)
        else:
            return super().call(inputs)
        if self.use_bias:
            y = y + self.bias
        if self.activation is not None:
            y = self.activation(y)
        return y
