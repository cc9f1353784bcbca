"""Strided 3D (transposed) convolutions: the one place where the video layers compute.

The translators and the video critic build every 3D convolution from these two layers, so how
they compute can change without touching the models. The weights always live in the wrapped
Keras Conv3D / Conv3DTranspose (same variables, same checkpoints for every `impl`):

- "stock": Keras' Conv3D / Conv3DTranspose (TF's Conv3D kernels: cuDNN on GPU, oneDNN on CPU).
- "taps": `idcg_tf.ops.conv3d_taps` / `conv3d_transpose_taps`, 2D convolutions over temporal
  taps (one conv2d per conv, one conv2d_transpose per temporal phase per transposed conv).
- "auto": per shape, the faster of the two measured on the device in use
  (`idcg_tf.ops.conv3d_autotune`: timed once, cached on disk). With timing off
  (IDCG_CONV3D_AUTOTUNE=0) or unknown shapes, a fixed rule: "stock" when a GPU is visible or
  TF runs its oneDNN CPU kernels (measured fastest there, see docs/performance.md), else
  "taps" (measured faster than TF's Eigen Conv3D on the large layers, docs/performance.md). Decided when the
  layer is called (traced).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from idcg_tf.architecture import CONV3D_IMPLS as IMPLS
from idcg_tf.cpu import onednn_enabled
from idcg_tf.ops import conv3d_autotune


def _check_impl(impl: str) -> str:
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
    return impl


def resolve_impl(impl: str) -> str:
    """The implementation "auto" stands for on this machine ("stock" or "taps")."""
    if impl != "auto":
        return _check_impl(impl)
    if tf.config.list_physical_devices("GPU") or onednn_enabled():
        return "stock"
    return "taps"


def _tf_strides(strides) -> tuple[int, int, int]:
    return (strides,) * 3 if isinstance(strides, int) else tuple(strides)


# Per kind of layer (the keys of conv3d_autotune.CANDIDATES, which also holds the ops of the
# other impls): the Keras layer that holds the weights, and its name (a checkpoint path part).
_STOCK = {
    "conv": (keras.layers.Conv3D, "conv"),
    "transpose": (keras.layers.Conv3DTranspose, "conv_transpose"),
}


class _VideoConvBase(keras.layers.Layer):
    """The two layers' shared body: the weights live in the wrapped Keras layer `conv`."""

    _kind: str  # "conv" or "transpose"

    def __init__(self, filters, kernel_size=4, strides=1, use_bias=True, impl="auto", **kwargs):
        super().__init__(**kwargs)
        self.impl = _check_impl(impl)
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
        """The implementation a call on inputs of `input_shape` runs ("stock" or "taps")."""
        if self.impl != "auto" or not conv3d_autotune.enabled():
            return resolve_impl(self.impl)
        shape = tuple(input_shape)
        if any(d is None for d in shape[1:]):
            return resolve_impl(self.impl)
        # An unknown batch is timed at 1: the choice is per layer shape, as cuDNN's.
        shape = (shape[0] or 1, *shape[1:])
        return conv3d_autotune.choose(
            self._kind, shape, tuple(self.conv.kernel.shape), _tf_strides(self.strides), dtype
        )

    def call(self, inputs):
        impl = self.implementation(inputs.shape, inputs.dtype)
        if impl == "stock":
            return self.conv(inputs)
        kernel = tf.cast(self.conv.kernel, inputs.dtype)
        op = conv3d_autotune.CANDIDATES[self._kind][impl]
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
        impl: "stock", "taps" or "auto" (see the module docstring).

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
