"""VideoGAN's two-stream generator: a moving foreground masked over a static background."""

from __future__ import annotations

import keras
from keras import ops

from idcg_tf.models.chain import build_chain, run_chain
from idcg_tf.models.image_decoder import ImageDecoder
from idcg_tf.models.noise_generator import NoiseGenerator


@keras.saving.register_keras_serializable(package="idcg_tf")
class TwoStreamVideoGenerator(NoiseGenerator):
    """z (N, noise_dim) -> clip m * f + (1 - m) * b in [-1, 1], (N, l, r, r, channels).

    Foreground stream: projection to a (t0, s, s, code_channels) code, 3D transposed
    convolutions to a tanh clip f and a sigmoid mask m. Background stream: its own projection
    to an (s, s, code_channels) code, 2D transposed convolutions of the same widths to a tanh
    image b, repeated over time. `streams()` returns all four parts (the mask for its sparsity
    penalty and for inspection).

    Args: as `NoiseGenerator`.

    Example:
        >>> g = TwoStreamVideoGenerator(frames=8, resolution=32, noise_dim=16,
        ...                             code_channels=64, decoder_widths=(32, 16, 8))
        >>> g.streams(tf.zeros([2, 16]))["mask"].shape
        TensorShape([2, 8, 32, 32, 1])

    Reference: Vondrick, Pirsiavash, Torralba, "Generating Videos with Scene Dynamics",
    NIPS 2016, Sec. 2.2.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.foreground_projection = self._projection(self.code_frames, "foreground_projection")
        # One transposed convolution with channels + 1 outputs is VideoGAN's two parallel heads
        # (clip and mask) on the shared features; the decoder's tanh on the extra channel is
        # turned into the mask by (tanh(a) + 1) / 2 = sigmoid(2a), a sigmoid.
        self.foreground = self._video_decoder(self.channels + 1, "foreground")
        self.background_projection = self._projection(1, "background_projection")
        self.background = ImageDecoder(
            self.decoder_widths,
            self.channels,
            self.kernel_size,
            dtype=self.dtype_policy,
            name="background",
        )

    def build(self, input_shape):
        build_chain((self.foreground_projection, self.foreground), input_shape)
        build_chain((self.background_projection, self.background), input_shape)

    def streams(self, z, training=False) -> dict:
        """{"video", "foreground" f, "mask" m in [0, 1] (N, l, r, r, 1), "background" b
        (N, r, r, channels)}."""
        out = run_chain((self.foreground_projection, self.foreground), z, training)
        foreground = out[..., : self.channels]
        mask = (out[..., self.channels :] + 1.0) * 0.5
        background = run_chain((self.background_projection, self.background), z, training)
        video = mask * foreground + (1.0 - mask) * ops.expand_dims(background, 1)
        return {"video": video, "foreground": foreground, "mask": mask, "background": background}

    def call(self, z, training=False):
        return self.streams(z, training=training)["video"]
