"""VideoGAN's two-stream generator: a moving foreground masked over a static background."""

from __future__ import annotations

import keras
from keras import ops

from idcg_tf.config import time_strides
from idcg_tf.models.image_decoder import ImageDecoder
from idcg_tf.models.video_decoder import VideoDecoder
from idcg_tf.models.video_generator import NoiseProjection


@keras.saving.register_keras_serializable(package="idcg_tf")
class TwoStreamVideoGenerator(keras.Model):
    """z (N, noise_dim) -> clip m * f + (1 - m) * b in [-1, 1], (N, l, r, r, channels).

    Foreground stream: projection to a (t0, s, s, code_channels) code, 3D transposed
    convolutions to a tanh clip f and a sigmoid mask m. Background stream: its own projection
    to an (s, s, code_channels) code, 2D transposed convolutions of the same widths to a tanh
    image b, repeated over time. `streams()` returns all four parts (the mask for its sparsity
    penalty and for inspection).

    Args: as `VideoGenerator`.

    Example:
        >>> g = TwoStreamVideoGenerator(frames=8, resolution=32, noise_dim=16,
        ...                             code_channels=64, decoder_widths=(32, 16, 8))
        >>> g.streams(tf.zeros([2, 16]))["mask"].shape
        TensorShape([2, 8, 32, 32, 1])

    Reference: Vondrick, Pirsiavash, Torralba, "Generating Videos with Scene Dynamics",
    NIPS 2016, Sec. 2.2.
    """

    def __init__(self, frames=32, resolution=64, noise_dim=100, code_channels=512,
                 decoder_widths=(256, 128, 64), channels=3, kernel_size=4, impl="auto",
                 **kwargs):
        super().__init__(**kwargs)
        self.frames = frames
        self.resolution = resolution
        self.noise_dim = noise_dim
        self.code_channels = code_channels
        self.decoder_widths = tuple(decoder_widths)
        self.channels = channels
        self.kernel_size = kernel_size
        self.impl = impl
        n = len(self.decoder_widths) + 1
        k = time_strides(frames, n)
        size, code_frames = resolution // 2**n, frames // 2**k
        self.foreground_projection = NoiseProjection(
            size, code_channels, code_frames, dtype=self.dtype_policy,
            name="foreground_projection")
        # One transposed convolution with channels + 1 outputs is VideoGAN's two parallel heads
        # (clip and mask) on the shared features; the decoder's tanh on the extra channel is
        # turned into the mask by (tanh(a) + 1) / 2 = sigmoid(2a), a sigmoid.
        self.foreground = VideoDecoder(self.decoder_widths, channels + 1, code_frames, k,
                                       kernel_size, impl=impl, dtype=self.dtype_policy,
                                       name="foreground")
        self.background_projection = NoiseProjection(
            size, code_channels, 1, dtype=self.dtype_policy, name="background_projection")
        self.background = ImageDecoder(self.decoder_widths, channels, kernel_size,
                                       dtype=self.dtype_policy, name="background")

    def build(self, input_shape):
        self.foreground_projection.build(input_shape)
        self.foreground.build(self.foreground_projection.compute_output_shape(input_shape))
        self.background_projection.build(input_shape)
        self.background.build(self.background_projection.compute_output_shape(input_shape))

    def streams(self, z, training=False) -> dict:
        """{"video", "foreground" f, "mask" m in [0, 1] (N, l, r, r, 1), "background" b
        (N, r, r, channels)}."""
        out = self.foreground(self.foreground_projection(z, training=training),
                              training=training)
        foreground = out[..., :self.channels]
        mask = (out[..., self.channels:] + 1.0) * 0.5
        background = self.background(self.background_projection(z, training=training),
                                     training=training)
        video = mask * foreground + (1.0 - mask) * ops.expand_dims(background, 1)
        return {"video": video, "foreground": foreground, "mask": mask,
                "background": background}

    def call(self, z, training=False):
        return self.streams(z, training=training)["video"]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.frames, self.resolution, self.resolution, self.channels)

    def get_config(self):
        config = super().get_config()
        config.update(frames=self.frames, resolution=self.resolution, noise_dim=self.noise_dim,
                      code_channels=self.code_channels, decoder_widths=list(self.decoder_widths),
                      channels=self.channels, kernel_size=self.kernel_size, impl=self.impl)
        return config
