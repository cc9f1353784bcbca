"""The networks of a generation run: the generator G (noise -> clip) and its adversary."""

from __future__ import annotations

import dataclasses

import keras

from idcg_tf.config import Config
from idcg_tf.errors import UserError


@dataclasses.dataclass
class GenerationNetworks:
    """The generator G (noise -> clip) and its adversary (WGAN critic or GAN discriminator)."""

    generator: keras.Model
    critic: keras.Model

    @property
    def two_stream(self) -> bool:
        return hasattr(self.generator, "streams")


def code_shape(cfg: Config) -> tuple[int, int, int, int]:
    """The code the noise is projected to: (latent frames, s, s, task.model.code_channels),
    (2, 4, 4, 512) at paper size as iVGAN's code (the paper gives no shape); its frames and size
    follow the decoder's strided layers."""
    m = cfg.task.model
    return (m.latent_frames, m.latent_size, m.latent_size, cfg.task.model.code_channels)


def build_generation_networks(cfg: Config) -> GenerationNetworks:
    """Creates and builds the networks of `cfg.task.model.generator` (inside `strategy.scope()`
    when distributed)."""
    from idcg_tf.models import video_critic
    from idcg_tf.models.two_stream_generator import TwoStreamVideoGenerator
    from idcg_tf.models.video_discriminator import VideoDiscriminator
    from idcg_tf.models.video_generator import VideoGenerator

    m, kind = cfg.task.model, cfg.task.model.generator
    if not kind:
        raise UserError("task.model.generator: empty; set it to build a video generator")
    common = dict(
        frames=m.frames,
        resolution=m.resolution,
        noise_dim=cfg.task.model.noise_dim,
        code_channels=cfg.task.model.code_channels,
        decoder_widths=m.video_decoder_widths,
        channels=m.channels,
        kernel_size=m.kernel_size,
        impl=m.conv_impl,
    )
    if kind == "videogan_two_stream":
        generator = TwoStreamVideoGenerator(name="generator", **common)
    else:
        generator = VideoGenerator(name="generator", **common)
    if kind == "wgan_one_stream":
        critic = video_critic(m, "critic")
    else:
        critic = VideoDiscriminator(
            m.video_critic_widths, m.frames, m.kernel_size, impl=m.conv_impl, name="critic"
        )
    generator.build((None, cfg.task.model.noise_dim))
    critic.build((None, m.frames, m.resolution, m.resolution, m.channels))
    return GenerationNetworks(generator, critic)
