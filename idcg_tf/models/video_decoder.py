"""3D video decoder: the second half of the image-to-video translator G_Y."""

from __future__ import annotations

import keras
from keras import ops

from idcg_tf.layers import BatchNorm, VideoConvTranspose
from idcg_tf.models.strided_decoder import StridedDecoder


@keras.saving.register_keras_serializable(package="idcg_tf")
class VideoDecoder(StridedDecoder):
    """Latent code -> clip by fractionally strided 3D convolutions (paper Sec. 3.1, after
    VideoGAN): BatchNorm + ReLU between layers, tanh out.

    (N, s, s, C) is unfolded into (N, t0, s, s, C / t0) (at paper size 4x4x1024 -> (2, 4, 4,
    512), the latent shape of iVGAN's code; the paper gives none), then each layer doubles height
    and width, and the last `time_strides` layers double time.

    Args:
        widths: output channels of all but the last layer, e.g. (256, 128, 64).
        channels: output channels of the last layer (3 for RGB).
        latent_frames: t0, the frames the latent code is unfolded into.
        time_strides: how many of the layers (the last ones) also double time.
        kernel_size: kernel of the transposed convolutions.
        impl: convolution implementation (see `idcg_tf.ops.conv_autotune`).
    """

    def __init__(
        self,
        widths=(256, 128, 64),
        channels=3,
        latent_frames=2,
        time_strides=4,
        kernel_size=4,
        impl="auto",
        **kwargs,
    ):
        super().__init__(widths, channels, kernel_size, **kwargs)
        self.latent_frames = latent_frames
        self.time_strides = time_strides
        self.impl = impl
        outs = self.widths + (channels,)
        n = len(outs)
        self.convs, self.norms = [], []
        for i, width in enumerate(outs):
            strides = (2 if i >= n - time_strides else 1, 2, 2)
            self.convs.append(
                VideoConvTranspose(
                    width,
                    kernel_size,
                    strides,
                    impl=impl,
                    dtype=self.dtype_policy,
                    name=f"deconv{i}",
                )
            )
            if i < n - 1:
                self.norms.append(
                    BatchNorm(synchronized=True, dtype=self.dtype_policy, name=f"bn{i}")
                )

    def steps(self, training=False) -> list:
        return [("channels_to_time", self._unfold), *super().steps(training)]

    def _unfold(self, x):
        """(N, s, s, C) -> (N, t0, s, s, C / t0): the latent code's channels become frames."""
        _, s, _, c = x.shape
        t0 = self.latent_frames
        x = ops.reshape(x, (-1, s, s, t0, c // t0))
        return ops.transpose(x, (0, 3, 1, 2, 4))

    def _unfold_shape(self, input_shape):
        n, s, _, c = input_shape
        return (n, self.latent_frames, s, s, c // self.latent_frames)

    def compute_output_shape(self, input_shape):
        n, s = input_shape[0], input_shape[1]
        up = 2 ** len(self.convs)
        return (n, self.latent_frames * 2**self.time_strides, s * up, s * up, self.channels)

    def get_config(self):
        config = super().get_config()
        config.update(
            latent_frames=self.latent_frames, time_strides=self.time_strides, impl=self.impl
        )
        return config
