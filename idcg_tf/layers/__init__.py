"""Building blocks shared by the translators and critics."""

from idcg_tf.layers.conv3d import VideoConv, VideoConvTranspose
from idcg_tf.layers.residual import ResidualBlock

__all__ = ["VideoConv", "VideoConvTranspose", "ResidualBlock"]
