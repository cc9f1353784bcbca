"""2D image encoder: the first half of the image-to-video translator G_Y."""

from __future__ import annotations

import keras

from idcg_tf.layers.conv2d import ImageConv
from idcg_tf.models.strided_encoder import StridedEncoder


@keras.saving.register_keras_serializable(package="idcg_tf")
class ImageEncoder(StridedEncoder):
    """Stride-2 Conv2D + BatchNorm + ReLU layers with residual blocks before the last two.

    (N, r, r, 3) -> (N, r / 2^n, r / 2^n, widths[-1]), n = len(widths). Paper Sec. 3.1: four
    strided convolutions with three residual blocks inserted before the 3rd and the 4th.

    Args:
        widths: output channels of each strided convolution, e.g. (128, 256, 512, 1024).
        residual_blocks: residual blocks before each of the last two strided convolutions.
        kernel_size: kernel of the strided convolutions.
        impl: convolution implementation (see `idcg_tf.ops.conv_autotune`).
    """

    def __init__(
        self, widths=(128, 256, 512, 1024), residual_blocks=3, kernel_size=4, impl="auto", **kw
    ):
        super().__init__(widths, residual_blocks, kernel_size, **kw)
        self.impl = impl
        self._make_stages(
            2,
            lambda i, width: ImageConv(
                width,
                kernel_size,
                strides=2,
                padding="same",
                impl=impl,
                dtype=self.dtype_policy,
                name=f"conv{i}",
            ),
            impl=impl,
        )

    def get_config(self):
        return {**super().get_config(), "impl": self.impl}

    def compute_output_shape(self, input_shape):
        n, r = input_shape[0], input_shape[1]
        s = None if r is None else r // 2 ** len(self.widths)
        return (n, s, s, self.widths[-1])
