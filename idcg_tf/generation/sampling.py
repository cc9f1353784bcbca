"""A trained generator in use: sample clips from noise, write them (`task.load_generator`
loads one from its run)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from idcg_tf.errors import UserError


def sample_noise(num: int, noise_dim: int, seed: int = 0) -> np.ndarray:
    """(num, noise_dim) standard normal, float32. Row i depends on the seed only, not on
    `num`, so asking for more clips keeps the first ones."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((num, noise_dim)).astype(np.float32)


def generate_clips(generator, num: int, seed: int = 0, batch_size: int = 16, streams: bool = False):
    """`num` clips (num, l, r, r, C) in [-1, 1] from noise of `seed`, inference mode.

    With `streams=True` (two-stream generators only) returns the dict of `streams()` parts as
    numpy arrays instead."""
    z = sample_noise(num, generator.noise_dim, seed)
    parts = []
    for start in range(0, num, batch_size):
        batch = z[start : start + batch_size]
        if streams:
            parts.append(
                {k: np.asarray(v) for k, v in generator.streams(batch, training=False).items()}
            )
        else:
            parts.append(np.asarray(generator(batch, training=False)))
    if streams:
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return np.concatenate(parts)


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
