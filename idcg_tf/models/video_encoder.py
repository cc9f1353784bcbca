"""3D video encoder: the first half of the video-to-image translator G_X."""

from __future__ import annotations

import keras
from keras import ops

from idcg_tf.layers import VideoConv
from idcg_tf.models.strided_encoder import StridedEncoder


@keras.saving.register_keras_serializable(package="idcg_tf")
class VideoEncoder(StridedEncoder):
    """Stride-2 Conv3D + BatchNorm + ReLU layers, residual blocks before the last two, and the
    remaining frames folded into channels.

    (N, l, r, r, 3) -> (N, r / 2^n, r / 2^n, t0 * widths[-1]) where the first `time_strides`
    layers also halve time and t0 = l / 2^time_strides (64x64, 32 frames with the default
    widths: (2, 4, 4, 512) -> 4x4x1024).

    Args:
        widths: output channels of each strided convolution, e.g. (64, 128, 256, 512).
        time_strides: how many of the strided layers (the first ones) also stride over time.
        residual_blocks: residual blocks before each of the last two strided convolutions.
        kernel_size: kernel of the strided convolutions.
        impl: convolution implementation (see `idcg_tf.ops.conv_autotune`).
    """

    def __init__(self, widths, time_strides=4, residual_blocks=3, kernel_size=4, impl="auto", **kw):
        super().__init__(widths, residual_blocks, kernel_size, **kw)
        self.time_strides = time_strides
        self.impl = impl
        self._make_stages(
            3,
            lambda i, width: VideoConv(
                width,
                kernel_size,
                (2 if i < time_strides else 1, 2, 2),
                impl=impl,
                dtype=self.dtype_policy,
                name=f"conv{i}",
            ),
            impl=impl,
        )

    def steps(self, training=False) -> list:
        return [*super().steps(training), ("time_to_channels", self._fold)]

    @staticmethod
    def _fold(x):
        """(N, t0, s, s, C) -> (N, s, s, t0 * C): time becomes channels for the 2D decoder."""
        _, t0, s, _, c = x.shape
        x = ops.transpose(x, (0, 2, 3, 1, 4))
        return ops.reshape(x, (-1, s, s, t0 * c))

    def compute_output_shape(self, input_shape):
        n, frames, r = input_shape[0], input_shape[1], input_shape[2]
        s = r // 2 ** len(self.widths)
        return (n, s, s, frames // 2**self.time_strides * self.widths[-1])

    def get_config(self):
        config = super().get_config()
        config.update(time_strides=self.time_strides, impl=self.impl)
        return config
