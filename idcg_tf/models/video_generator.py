"""Unconditional one-stream video generator: noise -> projection -> the 3D video decoder.

Used by both ours (WGAN-GP, paper Sec. 4.2) and VideoGAN's one-stream baseline: the two differ
only in their loss and adversary, so they share this network.
"""

from __future__ import annotations

import keras
from keras import ops

from idcg_tf.config import time_strides
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
        self.dense = keras.layers.Dense(size * size * frames * channels, dtype=self.dtype_policy,
                                        name="dense")
        self.norm = keras.layers.BatchNormalization(synchronized=True, dtype=self.dtype_policy,
                                                    name="bn")

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


@keras.saving.register_keras_serializable(package="idcg_tf")
class VideoGenerator(keras.Model):
    """z (N, noise_dim) -> clip (N, l, r, r, channels) in [-1, 1].

    Paper Sec. 4.2: the image-to-video translator with its image encoder replaced by a
    projection of noise, so the video decoder starts from the code the encoder would have made
    (paper size: 100 -> (2, 4, 4, 512) -> 32 x 64 x 64). The same network is VideoGAN's
    one-stream generator.

    Args:
        frames: l, frames of the clip.
        resolution: r; must be divisible by 2^(len(decoder_widths) + 1).
        noise_dim: size of z.
        code_channels: channels per frame of the projected code.
        decoder_widths: widths of all but the last transposed 3D convolution.
        channels: output channels (3 for RGB).
        kernel_size: kernel of the transposed convolutions.
        impl: 3D convolution implementation (see `idcg_tf.layers.conv3d`).

    Example:
        >>> g = VideoGenerator(frames=8, resolution=32, noise_dim=16, code_channels=64,
        ...                    decoder_widths=(32, 16, 8))
        >>> g(tf.zeros([2, 16])).shape
        TensorShape([2, 8, 32, 32, 3])

    Reference: Vondrick, Pirsiavash, Torralba, "Generating Videos with Scene Dynamics",
    NIPS 2016 (one-stream); Huang et al. 2017, Sec. 4.2.
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
        self.code_size = resolution // 2**n
        self.code_frames = frames // 2**k
        self.projection = NoiseProjection(self.code_size, code_channels, self.code_frames,
                                          dtype=self.dtype_policy, name="projection")
        self.decoder = VideoDecoder(self.decoder_widths, channels, self.code_frames, k,
                                    kernel_size, impl=impl, dtype=self.dtype_policy,
                                    name="video_decoder")

    def build(self, input_shape):
        self.projection.build(input_shape)
        self.decoder.build(self.projection.compute_output_shape(input_shape))

    def call(self, z, training=False):
        return self.decoder(self.projection(z, training=training), training=training)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.frames, self.resolution, self.resolution, self.channels)

    def get_config(self):
        config = super().get_config()
        config.update(frames=self.frames, resolution=self.resolution, noise_dim=self.noise_dim,
                      code_channels=self.code_channels, decoder_widths=list(self.decoder_widths),
                      channels=self.channels, kernel_size=self.kernel_size, impl=self.impl)
        return config
