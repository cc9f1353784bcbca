"""G_Y: the image-to-video translator."""

from __future__ import annotations

import keras

from idcg_tf.models.image_encoder import ImageEncoder
from idcg_tf.models.translator import Translator
from idcg_tf.models.video_decoder import VideoDecoder


@keras.saving.register_keras_serializable(package="idcg_tf")
class ImageToVideo(Translator):
    """Image encoder (strided Conv2D) into video decoder (Conv3DTranspose), paper Fig. 2a:
    (N, r, r, 3) -> (N, l, r, r, 3).

    Args: as `Translator`.

    Example:
        >>> g = ImageToVideo(frames=8, encoder_widths=(8, 16, 32, 64), decoder_widths=(32, 16, 8))
        >>> g(tf.zeros([2, 32, 32, 3])).shape
        TensorShape([2, 8, 32, 32, 3])

    Reference: Huang et al., "Face Translation between Images and Videos using Identity-aware
    CycleGAN", Sec. 3.1.
    """

    def __init__(
        self,
        frames=32,
        encoder_widths=(128, 256, 512, 1024),
        decoder_widths=(256, 128, 64),
        channels=3,
        residual_blocks=3,
        kernel_size=4,
        impl="auto",
        **kwargs,
    ):
        super().__init__(
            frames,
            encoder_widths,
            decoder_widths,
            channels,
            residual_blocks,
            kernel_size,
            impl,
            **kwargs,
        )
        self.encoder = ImageEncoder(
            self.encoder_widths,
            residual_blocks,
            kernel_size,
            dtype=self.dtype_policy,
            name="image_encoder",
        )
        self.decoder = VideoDecoder(
            self.decoder_widths,
            channels,
            frames // 2**self.time_strides,
            self.time_strides,
            kernel_size,
            impl=impl,
            dtype=self.dtype_policy,
            name="video_decoder",
        )
