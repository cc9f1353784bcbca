"""3D video decoder: the second half of the image-to-video translator G_Y."""

from __future__ import annotations

import keras
from keras import ops

from idcg_tf.layers import VideoConvTranspose


@keras.saving.register_keras_serializable(package="idcg_tf")
class VideoDecoder(keras.layers.Layer):
    """Latent code -> clip by fractionally strided 3D convolutions (paper Sec. 3.1, after
    VideoGAN): BatchNorm + ReLU between layers, tanh out.

    (N, s, s, C) is unfolded into (N, t0, s, s, C / t0) (paper: 4x4x1024 -> (2, 4, 4, 512)),
    then each layer doubles height and width, and the last `time_strides` layers double time.

    Args:
        widths: output channels of all but the last layer, e.g. (256, 128, 64).
        channels: output channels of the last layer (3 for RGB).
        latent_frames: t0, the frames the latent code is unfolded into.
        time_strides: how many of the layers (the last ones) also double time.
        kernel_size: kernel of the transposed convolutions.
        impl: 3D convolution implementation (see `idcg_tf.layers.conv3d`).
    """

    def __init__(self, widths=(256, 128, 64), channels=3, latent_frames=2, time_strides=4,
                 kernel_size=4, impl="auto", **kwargs):
        super().__init__(**kwargs)
        self.widths = tuple(widths)
        self.channels = channels
        self.latent_frames = latent_frames
        self.time_strides = time_strides
        self.kernel_size = kernel_size
        self.impl = impl
        outs = self.widths + (channels,)
        n = len(outs)
        self.convs, self.norms = [], []
        for i, width in enumerate(outs):
            strides = (2 if i >= n - time_strides else 1, 2, 2)
            self.convs.append(VideoConvTranspose(width, kernel_size, strides, impl=impl,
                                                 dtype=self.dtype_policy, name=f"deconv{i}"))
            if i < n - 1:
                self.norms.append(keras.layers.BatchNormalization(
                    synchronized=True, dtype=self.dtype_policy, name=f"bn{i}"))

    def _unfold(self, x):
        _, s, _, c = x.shape
        t0 = self.latent_frames
        x = ops.reshape(x, (-1, s, s, t0, c // t0))
        return ops.transpose(x, (0, 3, 1, 2, 4))

    def build(self, input_shape):
        _, s, _, c = input_shape
        shape = (input_shape[0], self.latent_frames, s, s, c // self.latent_frames)
        for i, conv in enumerate(self.convs):
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
            if i < len(self.norms):
                self.norms[i].build(shape)

    def call(self, inputs, training=False):
        x = self._unfold(inputs)
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i < len(self.norms):
                x = keras.activations.relu(self.norms[i](x, training=training))
        return ops.tanh(x)

    def compute_output_shape(self, input_shape):
        n, s = input_shape[0], input_shape[1]
        up = 2 ** len(self.convs)
        return (n, self.latent_frames * 2**self.time_strides, s * up, s * up, self.channels)

    def get_config(self):
        config = super().get_config()
        config.update(widths=list(self.widths), channels=self.channels,
                      latent_frames=self.latent_frames, time_strides=self.time_strides,
                      kernel_size=self.kernel_size, impl=self.impl)
        return config
