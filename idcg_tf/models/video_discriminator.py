"""VideoGAN's discriminator: the baseline adversary for the original (cross-entropy) GAN loss."""

from __future__ import annotations

import keras

from idcg_tf.config import time_strides
from idcg_tf.layers import VideoConv


@keras.saving.register_keras_serializable(package="idcg_tf")
class VideoDiscriminator(keras.Model):
    """Clip (N, l, r, r, C) -> (N, 1) real/fake logit.

    Stride-2 3D convolutions with BatchNorm (none after the first, as DCGAN) and
    LeakyReLU(0.2), then a linear layer over all features (VideoGAN's final convolution over the
    whole remaining volume). Unlike `VideoCritic` it uses BatchNorm: fine for a cross-entropy
    loss, wrong for WGAN-GP's per-sample gradient penalty. The first layers also stride over
    time while the frame count allows, as the critic does.

    Args:
        widths: widths of the strided Conv3D layers (VideoGAN: 64, 128, 256, 512).
        frames: l.
        kernel_size: kernel of the convolutions.
        impl: 3D convolution implementation (see `idcg_tf.layers.conv3d`).

    Reference: Vondrick, Pirsiavash, Torralba, "Generating Videos with Scene Dynamics",
    NIPS 2016, Sec. 2.3.
    """

    def __init__(self, widths=(64, 128, 256, 512), frames=32, kernel_size=4, impl="auto",
                 **kwargs):
        super().__init__(**kwargs)
        self.widths = tuple(widths)
        self.frames = frames
        self.kernel_size = kernel_size
        self.impl = impl
        k = time_strides(frames, len(self.widths))
        self.convs = [VideoConv(w, kernel_size, (2 if i < k else 1, 2, 2), impl=impl,
                                dtype=self.dtype_policy, name=f"conv{i}")
                      for i, w in enumerate(self.widths)]
        self.norms = [keras.layers.BatchNormalization(synchronized=True, dtype=self.dtype_policy,
                                                      name=f"bn{i}")
                      for i in range(1, len(self.widths))]
        self.flatten = keras.layers.Flatten(dtype=self.dtype_policy)
        self.linear = keras.layers.Dense(1, dtype=self.dtype_policy, name="linear")

    def build(self, input_shape):
        shape = tuple(input_shape)
        for i, conv in enumerate(self.convs):
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
            if i > 0:
                self.norms[i - 1].build(shape)
        self.linear.build(self.flatten.compute_output_shape(shape))

    def call(self, inputs, training=False):
        x = inputs
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i > 0:
                x = self.norms[i - 1](x, training=training)
            x = keras.activations.leaky_relu(x, negative_slope=0.2)
        return self.linear(self.flatten(x))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def get_config(self):
        config = super().get_config()
        config.update(widths=list(self.widths), frames=self.frames,
                      kernel_size=self.kernel_size, impl=self.impl)
        return config
