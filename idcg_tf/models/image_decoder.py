"""2D image decoder: the second half of the video-to-image translator G_X."""

from __future__ import annotations

import keras

from idcg_tf.layers.batchnorm import BatchNorm
from idcg_tf.layers.conv2d import ImageConvTranspose
from idcg_tf.models.strided_decoder import StridedDecoder


@keras.saving.register_keras_serializable(package="idcg_tf")
class ImageDecoder(StridedDecoder):
    """Latent code -> image by fractionally strided 2D convolutions, BatchNorm + ReLU between
    layers, tanh out. (N, s, s, C) -> (N, s * 2^n, s * 2^n, channels).

    Args:
        widths: output channels of all but the last layer, e.g. (512, 256, 128).
        channels: output channels of the last layer (3 for RGB).
        kernel_size: kernel of the transposed convolutions.
        impl: convolution implementation (see `idcg_tf.ops.conv_autotune`).
    """

    def __init__(self, widths=(512, 256, 128), channels=3, kernel_size=4, impl="auto", **kwargs):
        super().__init__(widths, channels, kernel_size, **kwargs)
        self.impl = impl
        outs = self.widths + (channels,)
        self.convs = [
            ImageConvTranspose(
                w,
                kernel_size,
                strides=2,
                padding="same",
                impl=impl,
                dtype=self.dtype_policy,
                name=f"deconv{i}",
            )
            for i, w in enumerate(outs)
        ]
        self.norms = [
            BatchNorm(synchronized=True, dtype=self.dtype_policy, name=f"bn{i}")
            for i in range(len(outs) - 1)
        ]

    def compute_output_shape(self, input_shape):
        n, s = input_shape[0], input_shape[1]
        up = 2 ** len(self.convs)
        return (n, s * up, s * up, self.channels)

    def get_config(self):
        return {**super().get_config(), "impl": self.impl}
