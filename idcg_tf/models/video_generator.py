"""Unconditional one-stream video generator: noise -> projection -> the 3D video decoder.

Used by both ours (WGAN-GP, paper Sec. 4.2) and VideoGAN's one-stream baseline: the two differ
only in their loss and adversary, so they share this network.
"""

from __future__ import annotations

import keras

from idcg_tf.models.noise_generator import NoiseGenerator


@keras.saving.register_keras_serializable(package="idcg_tf")
class VideoGenerator(NoiseGenerator):
    """z (N, noise_dim) -> clip (N, l, r, r, channels) in [-1, 1].

    Paper Sec. 4.2: the image-to-video translator with its image encoder replaced by a
    projection of noise, so the video decoder starts from the code the encoder would have made
    (paper size: 100 -> (2, 4, 4, 512) -> 32 x 64 x 64). The same network is VideoGAN's
    one-stream generator.

    Args: as `NoiseGenerator`.

    Example:
        >>> g = VideoGenerator(frames=8, resolution=32, noise_dim=16, code_channels=64,
        ...                    decoder_widths=(32, 16, 8))
        >>> g(tf.zeros([2, 16])).shape
        TensorShape([2, 8, 32, 32, 3])

    Reference: Vondrick, Pirsiavash, Torralba, "Generating Videos with Scene Dynamics",
    NIPS 2016 (one-stream); Huang et al. 2017, Sec. 4.2.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.projection = self._projection(self.code_frames, "projection")
        self.decoder = self._video_decoder(self.channels, "video_decoder")

    def _chain(self):
        return (self.projection, self.decoder)
