"""VideoGAN's discriminator: the baseline adversary for the original (cross-entropy) GAN loss."""

from __future__ import annotations

import keras

from idcg_tf.layers import BatchNorm
from idcg_tf.models.critics import VideoCritic


@keras.saving.register_keras_serializable(package="idcg_tf")
class VideoDiscriminator(VideoCritic):
    """Clip (N, l, r, r, C) -> (N, 1) real/fake logit.

    Stride-2 3D convolutions with BatchNorm (none after the first, as DCGAN) and
    LeakyReLU(0.2), then a linear layer over all features (VideoGAN's final convolution over the
    whole remaining volume): the "four_conv" video critic with BatchNorm for its LayerNorm.
    BatchNorm is fine for a cross-entropy loss and wrong for WGAN-GP's per-sample gradient
    penalty. The first layers also stride over time while the frame count allows, as the
    critic does.

    Args:
        widths: widths of the strided Conv3D layers (VideoGAN: 64, 128, 256, 512).
        frames: l.
        kernel_size: kernel of the convolutions.
        impl: convolution implementation (see `idcg_tf.ops.conv_autotune`).

    Reference: Vondrick, Pirsiavash, Torralba, "Generating Videos with Scene Dynamics",
    NIPS 2016, Sec. 2.3.
    """

    norm_name = "BatchNorm"

    def __init__(self, widths=(64, 128, 256, 512), frames=32, kernel_size=4, impl="auto", **kwargs):
        super().__init__(widths, frames, kernel_size, impl, form="four_conv", **kwargs)

    def _norm(self, i):
        return BatchNorm(synchronized=True, dtype=self.dtype_policy, name=f"bn{i}")

    def get_config(self):
        config = super().get_config()
        del config["form"]  # always four_conv
        return config
