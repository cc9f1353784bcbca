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

    def _parts(self):
        k, dtype = self.kernel_size, self.dtype_policy
        encoder = ImageEncoder(
            self.encoder_widths,
            self.residual_blocks,
            k,
            impl=self.impl,
            dtype=dtype,
            name="image_encoder",
        )
        decoder = VideoDecoder(
            self.decoder_widths,
            self.channels,
            self.frames // 2**self.time_strides,
            self.time_strides,
            k,
            impl=self.impl,
            dtype=dtype,
            name="video_decoder",
        )
        return encoder, decoder
