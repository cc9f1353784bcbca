"""Unconditional video generation (paper Sec. 4.2, Fig. 3): ours vs VideoGAN one/two-stream.

A config with `generation.model` set trains a noise-to-clip generator against an adversary on
`data.train_clips` (see `idcg_tf.generation.trainer`). This module builds the two networks from
the config, loads a trained generator from its run directory, samples clips from it and draws
and writes them (the Fig. 3 sheet, GIF, MP4). Metrics: `idcg_tf.generation.metrics`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import numpy as np

from idcg_tf.config import Config
from idcg_tf.errors import UserError
from idcg_tf.runs import checkpoint_variables

SHEET_FRAMES = (1, 8, 16, 32)  # the paper's Fig. 3 columns (1-based), clamped for short clips


@dataclasses.dataclass
class GenerationNetworks:
    """The generator G (noise -> clip) and its adversary (WGAN critic or GAN discriminator)."""

    generator: keras.Model
    critic: keras.Model

    @property
    def two_stream(self) -> bool:
        return hasattr(self.generator, "streams")


def build_generation_networks(cfg: Config) -> GenerationNetworks:
    """Creates and builds the networks of `cfg.generation.model` (inside `strategy.scope()`
    when distributed). The generator's code has the shape the image encoder's would have:
    (latent_frames, s, s, image_encoder_widths[-1] / latent_frames), paper (2, 4, 4, 512)."""
    from idcg_tf.models.critics import VideoCritic
    from idcg_tf.models.two_stream_generator import TwoStreamVideoGenerator
    from idcg_tf.models.video_discriminator import VideoDiscriminator
    from idcg_tf.models.video_generator import VideoGenerator

    m, kind = cfg.model, cfg.generation.model
    if not kind:
        raise UserError("generation.model: empty; set it to build a video generator")
    common = dict(frames=m.frames, resolution=m.resolution, noise_dim=cfg.generation.noise_dim,
                  code_channels=m.image_encoder_widths[-1] // m.latent_frames,
                  decoder_widths=m.video_decoder_widths, channels=m.channels,
                  kernel_size=m.kernel_size, impl=m.conv3d_impl)
    if kind == "videogan_two_stream":
        generator = TwoStreamVideoGenerator(name="generator", **common)
    else:
        generator = VideoGenerator(name="generator", **common)
    if kind == "wgan_one_stream":
        critic = VideoCritic(m.video_critic_widths, m.frames, m.kernel_size,
                             impl=m.conv3d_impl, form=m.video_critic_form, name="critic")
    else:
        critic = VideoDiscriminator(m.video_critic_widths, m.frames, m.kernel_size,
                                    impl=m.conv3d_impl, name="critic")
    generator.build((None, cfg.generation.noise_dim))
    critic.build((None, m.frames, m.resolution, m.resolution, m.channels))
    return GenerationNetworks(generator, critic)


def describe_networks(cfg: Config) -> str:
    """The dry-run report of a generation config: networks, shapes, losses."""
    g, m, t = cfg.generation, cfg.model, cfg.train
    nets = build_generation_networks(cfg)
    video = (None, m.frames, m.resolution, m.resolution, m.channels)
    rows = [(f"G {type(nets.generator).__name__}", nets.generator, (None, g.noise_dim)),
            (f"C {type(nets.critic).__name__}", nets.critic, video)]
    lines = [f"{'network':32} {'parameters':>12}  input -> output"]
    for name, net, shape in rows:
        out = net.compute_output_shape(shape)
        lines.append(f"{name:32} {net.count_params():>12,}  {shape} -> {tuple(out)}")
    code = (m.latent_frames, m.latent_size, m.latent_size,
            m.image_encoder_widths[-1] // m.latent_frames)
    lines.append(f"generation {g.model}: z ~ N(0, I) of {g.noise_dim} -> code {code}")
    if g.model == "wgan_one_stream":
        lines.append(f"loss: WGAN-GP (lambda {cfg.loss.gradient_penalty}); critic updates "
                     f"per generator update: {t.n_critic}")
    else:
        sparsity = (f" + {g.mask_sparsity} * mask L1" if g.model == "videogan_two_stream"
                    else "")
        lines.append(f"loss: GAN cross-entropy (non-saturating generator){sparsity}; "
                     f"discriminator updates per generator update: {t.n_critic}")
    lines.append("unused in generation mode: model.variant, image/video encoder and image "
                 "decoder widths (but image_encoder_widths[-1] sets the code), loss.cycle, "
                 "loss.*identity, data.*_images")
    return "\n".join(lines)


def load_generator(workdir: str | Path, step: int | None = None):
    """Restores a generation run's generator; returns (cfg, generator, step)."""
    import tensorflow as tf

    from idcg_tf.runs import checkpoint_path, load_config

    cfg = load_config(workdir)
    if not cfg.generation.model:
        raise UserError(f"{workdir}: a translation run (generation.model is empty in its "
                        "config.yaml); this needs a run trained with a gen_*.yaml config")
    path = checkpoint_path(workdir, step)
    nets = build_generation_networks(cfg)
    step_var = tf.Variable(0, dtype=tf.int64)
    checkpoint = tf.train.Checkpoint(step=step_var,
                                     generator=checkpoint_variables(nets.generator))
    checkpoint.restore(path).expect_partial().assert_existing_objects_matched()
    return cfg, nets.generator, int(step_var.numpy())


def sample_noise(num: int, noise_dim: int, seed: int = 0) -> np.ndarray:
    """(num, noise_dim) standard normal, float32. Row i depends on the seed only, not on
    `num`, so asking for more clips keeps the first ones."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((num, noise_dim)).astype(np.float32)


def generate_clips(generator, num: int, seed: int = 0, batch_size: int = 16,
                   streams: bool = False):
    """`num` clips (num, l, r, r, C) in [-1, 1] from noise of `seed`, inference mode.

    With `streams=True` (two-stream generators only) returns the dict of `streams()` parts as
    numpy arrays instead."""
    z = sample_noise(num, generator.noise_dim, seed)
    parts = []
    for start in range(0, num, batch_size):
        batch = z[start:start + batch_size]
        if streams:
            parts.append({k: np.asarray(v)
                          for k, v in generator.streams(batch, training=False).items()})
        else:
            parts.append(np.asarray(generator(batch, training=False)))
    if streams:
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return np.concatenate(parts)


def generation_sheet(clips, frames=SHEET_FRAMES) -> np.ndarray:
    """One row per clip, frames 1, 8, 16, 32 (clamped to the clip length) as the paper's
    Fig. 3. `clips` are floats in [-1, 1]; returns a uint8 sheet."""
    from idcg_tf.visualize import pick_frames, sample_sheet, to_uint8

    clips = to_uint8(clips)
    idx = pick_frames(clips.shape[1], frames)
    return sample_sheet([[clip[k] for k in idx] for clip in clips])


def comparison_sheet(named_clips: dict, frames=SHEET_FRAMES, gap: int = 4) -> np.ndarray:
    """Fig. 3 for several runs: per run a text label over its `generation_sheet`, stacked."""
    from PIL import Image, ImageDraw

    blocks = [(name, generation_sheet(clips, frames)) for name, clips in named_clips.items()]
    width = max(sheet.shape[1] for _, sheet in blocks)
    white = np.full((gap, width, 3), 255, np.uint8)
    parts = []
    for name, sheet in blocks:
        label = Image.new("RGB", (width, 14), (255, 255, 255))
        ImageDraw.Draw(label).text((2, 1), name, fill=(0, 0, 0))
        parts += [np.asarray(label),
                  np.pad(sheet, ((0, 0), (0, width - sheet.shape[1]), (0, 0)),
                         constant_values=255),
                  white]
    return np.concatenate(parts[:-1], axis=0)


def save_clip(path: str | Path, clip_uint8: np.ndarray, fps: int = 8) -> None:
    """Writes an (l, h, w, 3) uint8 clip as .gif (Pillow) or .mp4 (imageio-ffmpeg when
    installed, else OpenCV's 'mp4v' writer)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".gif":
        from idcg_tf.visualize import save_gif

        save_gif(path, clip_uint8, fps=fps)
        return
    if suffix != ".mp4":
        raise UserError(f"{path}: clips are written as .gif or .mp4")
    from idcg_tf.visualize import save_mp4

    try:
        save_mp4(path, clip_uint8, fps=fps)
    except RuntimeError:
        raise UserError(f"{path}: OpenCV cannot write mp4 here; use --format gif") from None


__all__ = ["GenerationNetworks", "build_generation_networks", "checkpoint_variables",
           "describe_networks", "load_generator", "sample_noise", "generate_clips",
           "generation_sheet", "comparison_sheet", "save_clip", "SHEET_FRAMES"]
