"""G_X: the video-to-image translator."""

from __future__ import annotations

import keras

from idcg_tf.models.image_decoder import ImageDecoder
from idcg_tf.models.translator import Translator
from idcg_tf.models.video_encoder import VideoEncoder


@keras.saving.register_keras_serializable(package="idcg_tf")
class VideoToImage(Translator):
    """Video encoder (strided Conv3D) into image decoder (Conv2DTranspose), paper Fig. 2b:
    (N, l, r, r, 3) -> (N, r, r, 3).

    Args: as `Translator`.

    Example:
        >>> g = VideoToImage(frames=8, encoder_widths=(8, 16, 32, 64), decoder_widths=(32, 16, 8))
        >>> g(tf.zeros([2, 8, 32, 32, 3])).shape
        TensorShape([2, 32, 32, 3])
    """

    def __init__(
        self,
        frames=32,
        encoder_widths=(64, 128, 256, 512),
        decoder_widths=(512, 256, 128),
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
        self.encoder = VideoEncoder(
            self.encoder_widths,
            self.time_strides,
            residual_blocks,
            kernel_size,
            impl=impl,
            dtype=self.dtype_policy,
            name="video_encoder",
        )
        self.decoder = ImageDecoder(
            self.decoder_widths,
            channels,
            kernel_size,
            dtype=self.dtype_policy,
            name="image_decoder",
        )
