"""G_X: the video-to-image translator."""

from __future__ import annotations

import keras

from idcg_tf.config import time_strides
from idcg_tf.models.image_decoder import ImageDecoder
from idcg_tf.models.translator import Translator
from idcg_tf.models.video_encoder import VideoEncoder


@keras.saving.register_keras_serializable(package="idcg_tf")
class VideoToImage(Translator):
    """Video encoder into image decoder (paper Fig. 2b): (N, l, r, r, 3) -> (N, r, r, 3).

    Args:
        frames: l, frames of the input clip.
        encoder_widths: widths of the strided Conv3D layers.
        decoder_widths: widths of all but the last Conv2DTranspose layer.
        channels: image channels.
        residual_blocks: residual blocks before each of the last two encoder convolutions.
        kernel_size: kernel of all strided (transposed) convolutions.
        impl: 3D convolution implementation (see `idcg_tf.layers.conv3d`).

    Example:
        >>> g = VideoToImage(frames=8, encoder_widths=(8, 16, 32, 64), decoder_widths=(32, 16, 8))
        >>> g(tf.zeros([2, 8, 32, 32, 3])).shape
        TensorShape([2, 32, 32, 3])
    """

    def __init__(self, frames=32, encoder_widths=(64, 128, 256, 512),
                 decoder_widths=(512, 256, 128), channels=3, residual_blocks=3, kernel_size=4,
                 impl="auto", **kwargs):
        super().__init__(frames, encoder_widths, decoder_widths, channels, residual_blocks,
                         kernel_size, impl, **kwargs)
        k = time_strides(frames, len(self.encoder_widths))
        self.encoder = VideoEncoder(self.encoder_widths, k, residual_blocks, kernel_size,
                                    impl=impl, dtype=self.dtype_policy, name="video_encoder")
        self.decoder = ImageDecoder(self.decoder_widths, channels, kernel_size,
                                    dtype=self.dtype_policy, name="image_decoder")
