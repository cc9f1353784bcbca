"""The four networks of IdCycleGAN and a builder from the config."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from idcg_tf.models.critics import ImageCritic, VideoCritic
from idcg_tf.models.image_to_video import ImageToVideo
from idcg_tf.models.video_to_image import VideoToImage

if TYPE_CHECKING:
    from idcg_tf.config import ModelConfig

__all__ = [
    "ImageToVideo",
    "VideoToImage",
    "ImageCritic",
    "VideoCritic",
    "Networks",
    "build_networks",
    "video_critic",
]


@dataclasses.dataclass
class Networks:
    """G_Y (image -> video), G_X (video -> image), C_X (image critic), C_Y (video critic)."""

    image_to_video: ImageToVideo
    video_to_image: VideoToImage
    image_critic: ImageCritic
    video_critic: VideoCritic

    @property
    def generators(self):
        return [self.image_to_video, self.video_to_image]

    @property
    def critics(self):
        return [self.image_critic, self.video_critic]


def video_critic(m: ModelConfig, name: str) -> VideoCritic:
    """C_Y of model config `m` (also the critic of the WGAN video generation task)."""
    form = m.video_critic_form
    args = (m.video_critic_widths, m.frames, m.kernel_size)
    return VideoCritic(*args, impl=m.conv_impl, form=form, name=name)


def build_networks(m: ModelConfig) -> Networks:
    """Creates and builds the four networks (call inside `strategy.scope()` when distributed)."""
    image_shape = (None, m.resolution, m.resolution, m.channels)
    video_shape = (None, m.frames, m.resolution, m.resolution, m.channels)
    common = dict(
        channels=m.channels,
        residual_blocks=m.residual_blocks,
        kernel_size=m.kernel_size,
        impl=m.conv_impl,
    )
    g_y = (m.frames, m.image_encoder_widths, m.video_decoder_widths)
    g_x = (m.frames, m.video_encoder_widths, m.image_decoder_widths)
    nets = Networks(
        image_to_video=ImageToVideo(*g_y, name="image_to_video", **common),
        video_to_image=VideoToImage(*g_x, name="video_to_image", **common),
        image_critic=ImageCritic(
            m.image_critic_widths, m.kernel_size, impl=m.conv_impl, name="image_critic"
        ),
        video_critic=video_critic(m, "video_critic"),
    )
    nets.image_to_video.build(image_shape)
    nets.video_to_image.build(video_shape)
    nets.image_critic.build(image_shape)
    nets.video_critic.build(video_shape)
    return nets
