"""Strided 2D (transposed) convolutions of the image encoder, image decoder, image critic and
the 2D residual blocks: Keras' Conv2D / Conv2DTranspose (same variables, same checkpoints),
whose convolution is chosen per layer shape.

- "stock": Keras' own op (oneDNN / Eigen on CPU, cuDNN on GPU).
- "matmul": `idcg_tf.ops.conv2d_matmul`, the whole convolution as one matmul.
- "auto" (default): per input shape, the faster of the two measured on the device in use
  (`idcg_tf.ops.conv3d_autotune`, cached on disk); "stock" when timing is off
  (IDCG_CONV3D_AUTOTUNE=0), the shape is not static, or the kernel is not a multiple of the
  stride. On our CPUs "matmul" wins the 4x4 maps of paper-size models (docs/performance.md).
"""

from __future__ import annotations

import keras

from idcg_tf.ops import conv2d_matmul, conv3d_autotune

IMPLS = ("stock", "matmul", "auto")


def _choose(layer, kind: str, input_shape, dtype) -> str:
    """The implementation ("stock" or "matmul") of a call on `input_shape`; "matmul" only where
    it applies (static H, W, C, "same" padding without output_padding, channels last, no
    dilation or groups, each stride dividing its kernel size)."""
    shape = tuple(input_shape)
    applies = (
        len(shape) == 4
        and all(d is not None for d in shape[1:])
        and layer.padding == "same"
        and getattr(layer, "output_padding", None) is None
        and layer.data_format == "channels_last"
        and tuple(layer.dilation_rate) == (1, 1)
        and getattr(layer, "groups", 1) == 1
        and conv2d_matmul.supported(layer.kernel.shape, layer.strides)
    )
    if layer.impl != "auto" or not applies:
        return layer.impl if applies else "stock"
    if not conv3d_autotune.enabled():
        return "stock"
    shape = (shape[0] or 1, *shape[1:])  # an unknown batch is timed at 1, as in 3D
    return conv3d_autotune.choose(
        kind, shape, tuple(layer.kernel.shape), tuple(layer.strides), dtype
    )


def _check(impl: str) -> str:
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
    return impl


class _WithImpl:
    """The `impl` argument both layers add to their Keras base class."""

    def __init__(self, *args, impl="auto", **kwargs):
        super().__init__(*args, **kwargs)
        self.impl = _check(impl)

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
        if _choose(self, "transpose2d", inputs.shape, inputs.dtype) != "matmul":
            return super().call(inputs)
        y = conv2d_matmul.conv2d_transpose_matmul(inputs, self.kernel, tuple(self.strides))
        if self.use_bias:
            y = y + self.bias
        if self.activation is not None:
            y = self.activation(y)
        return y
