"""What the unconditional video generators share: the projection of noise to a latent code,
and a base that holds their arguments and the code's shape."""

from __future__ import annotations

import keras
from keras import ops

from idcg_tf.architecture import time_strides
from idcg_tf.layers.batchnorm import BatchNorm
from idcg_tf.models.chain import Chain
from idcg_tf.models.video_decoder import VideoDecoder


@keras.saving.register_keras_serializable(package="idcg_tf")
class NoiseProjection(keras.layers.Layer):
    """z (N, D) -> latent code (N, s, s, frames * channels): Dense, BatchNorm, ReLU (the first
    layer of DCGAN and VideoGAN generators).

    The code is laid out as `VideoDecoder` unfolds it (frames outer, channels inner on the last
    axis), and BatchNorm statistics are per channel over the frames too, as a 3D BatchNorm on
    the unfolded (frames, s, s, channels) code would compute them.

    Args:
        size: s, the code's height and width.
        channels: channels per frame of the code (VideoGAN: 512).
        frames: frames of the code (VideoGAN: 2); 1 for an image code.
    """

    def __init__(self, size=4, channels=512, frames=1, **kwargs):
        super().__init__(**kwargs)
        self.size = size
        self.channels = channels
        self.frames = frames
        self.dense = keras.layers.Dense(
            size * size * frames * channels, dtype=self.dtype_policy, name="dense"
        )
        self.norm = BatchNorm(synchronized=True, dtype=self.dtype_policy, name="bn")

    def build(self, input_shape):
        self.dense.build(input_shape)
        self.norm.build((input_shape[0], self.size, self.size, self.frames, self.channels))

    def call(self, z, training=False):
        s, t, c = self.size, self.frames, self.channels
        x = ops.reshape(self.dense(z), (-1, s, s, t, c))
        x = keras.activations.relu(self.norm(x, training=training))
        return ops.reshape(x, (-1, s, s, t * c))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size, self.size, self.frames * self.channels)

    def get_config(self):
        config = super().get_config()
        config.update(size=self.size, channels=self.channels, frames=self.frames)
        return config


class NoiseGenerator(Chain):
    """Base of `VideoGenerator` and `TwoStreamVideoGenerator`: z (N, noise_dim) -> clip
    (N, l, r, r, channels) in [-1, 1], from a code of the shape the image encoder makes
    (`code_frames`, `code_size`, `code_size`, `code_channels`), decoded by 3D transposed
    convolutions whose last `code_time_strides` double time. A `Chain` as the one-stream
    generator is; the two-stream one runs two chains and builds and calls them itself.

    Args:
        frames: l, frames of the clip.
        resolution: r; must be divisible by 2^(len(decoder_widths) + 1).
        noise_dim: size of z.
        code_channels: channels per frame of the projected code.
        decoder_widths: widths of all but the last transposed 3D convolution.
        channels: output channels (3 for RGB).
        kernel_size: kernel of the transposed convolutions.
        impl: convolution implementation (see `idcg_tf.ops.conv_autotune`).
    """

    def __init__(
        self,
        frames=32,
        resolution=64,
        noise_dim=100,
        code_channels=512,
        decoder_widths=(256, 128, 64),
        channels=3,
        kernel_size=4,
        impl="auto",
        **kwargs,
    ):
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
        self.code_time_strides = time_strides(frames, n)
        self.code_size = resolution // 2**n
        self.code_frames = frames // 2**self.code_time_strides

    def _projection(self, frames, name):
        return NoiseProjection(
            self.code_size, self.code_channels, frames, dtype=self.dtype_policy, name=name
        )

    def _video_decoder(self, channels, name):
        return VideoDecoder(
            self.decoder_widths,
            channels,
            self.code_frames,
            self.code_time_strides,
            self.kernel_size,
            impl=self.impl,
            dtype=self.dtype_policy,
            name=name,
        )

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.frames, self.resolution, self.resolution, self.channels)

    def get_config(self):
        config = super().get_config()
        config.update(
            frames=self.frames,
            resolution=self.resolution,
            noise_dim=self.noise_dim,
            code_channels=self.code_channels,
            decoder_widths=list(self.decoder_widths),
            channels=self.channels,
            kernel_size=self.kernel_size,
            impl=self.impl,
        )
        return config
