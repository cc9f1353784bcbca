"""Building blocks shared by the translators and critics."""

from idcg_tf.layers.batchnorm import BatchNorm
from idcg_tf.layers.conv2d import ImageConv, ImageConvTranspose
from idcg_tf.layers.conv3d import VideoConv, VideoConvTranspose
from idcg_tf.layers.residual import ResidualBlock

__all__ = [
    "BatchNorm",
    "ImageConv",
    "ImageConvTranspose",
    "VideoConv",
    "VideoConvTranspose",
    "ResidualBlock",
]
