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

    def _parts(self):
        encoder = VideoEncoder(
            self.encoder_widths,
            self.time_strides,
            self.residual_blocks,
            self.kernel_size,
            impl=self.impl,
            dtype=self.dtype_policy,
            name="video_encoder",
        )
        k, dtype = self.kernel_size, self.dtype_policy
        decoder = ImageDecoder(
            self.decoder_widths, self.channels, k, impl=self.impl, dtype=dtype, name="image_decoder"
        )
        return encoder, decoder
