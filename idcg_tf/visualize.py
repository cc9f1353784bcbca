"""Pictures of what the networks do: sample sheets (the paper's Fig. 4 and 5 layouts), PNG,
animated GIF and MP4 writers."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def to_uint8(x) -> np.ndarray:
    """[-1, 1] floats -> uint8 pixels."""
    x = np.asarray(x, dtype=np.float32)
    return np.clip(np.round((x + 1.0) * 127.5), 0, 255).astype(np.uint8)


def pick_frames(frames: int, wanted=(1, 8, 32)) -> list[int]:
    """0-based indices of the paper's frames 1, 8, 32 (or as many as a short clip has)."""
    picks = sorted({min(f, frames) - 1 for f in wanted if f >= 1})
    return picks or [0]


def _interleave(parts: list[np.ndarray], spacer: np.ndarray, axis: int) -> np.ndarray:
    """`parts` concatenated along `axis` with `spacer` between neighbours."""
    out = [parts[0]]
    for part in parts[1:]:
        out += [spacer, part]
    return np.concatenate(out, axis=axis)


def sample_sheet(rows: list[list[np.ndarray]], gap: int = 2, min_cell: int = 64) -> np.ndarray:
    """Stacks rows of equally sized uint8 HxWx3 cells into one sheet with white gaps; cells
    smaller than `min_cell` pixels are enlarged (nearest neighbour) so faces stay visible."""
    scale = max(1, min_cell // rows[0][0].shape[0])
    if scale > 1:
        rows = [[c.repeat(scale, axis=0).repeat(scale, axis=1) for c in r] for r in rows]
    h, _, c = rows[0][0].shape
    lines = [_interleave(r, np.full((h, gap, c), 255, np.uint8), axis=1) for r in rows]
    width = max(line.shape[1] for line in lines)
    lines = [
        np.pad(line, ((0, 0), (0, width - line.shape[1]), (0, 0)), constant_values=255)
        for line in lines
    ]
    return _interleave(lines, np.full((gap, width, 3), 255, np.uint8), axis=0)


def _image_to_video_rows(images, translations, idx) -> list[list[np.ndarray]]:
    """Per sample: input image, then per model its translated frames `idx` and reconstructed
    image, a blank cell between models."""
    images = to_uint8(images)
    blank = np.full_like(images[0], 255)
    rows = []
    for i in range(len(images)):
        row = [images[i]]
        for m, (fake_clips, rec_images) in enumerate(translations):
            row += [blank] if m else []
            row += [to_uint8(fake_clips[i, k]) for k in idx] + [to_uint8(rec_images[i])]
        rows.append(row)
    return rows


def _video_to_image_rows(clips, translations, idx) -> list[list[np.ndarray]]:
    """Per sample: input frames `idx`, then per model its translated image and reconstructed
    frames, a blank cell between models."""
    clips = to_uint8(clips)
    blank = np.full_like(clips[0, 0], 255)
    rows = []
    for i in range(len(clips)):
        row = [clips[i, k] for k in idx]
        for m, (fake_images, rec_clips) in enumerate(translations):
            row += [blank] if m else []
            row += [to_uint8(fake_images[i])] + [to_uint8(rec_clips[i, k]) for k in idx]
        rows.append(row)
    return rows


def image_to_video_sheet(images, translations, frames=(1, 8, 32)) -> np.ndarray:
    """Fig. 4 layout, one row per sample: input image, then per model its translated frames
    `frames` and the reconstructed image (a blank cell between models).

    `translations` holds (fake_clips, rec_images) per model; all arrays in [-1, 1]."""
    idx = pick_frames(np.shape(translations[0][0])[1], frames)
    return sample_sheet(_image_to_video_rows(images, translations, idx))


def video_to_image_sheet(clips, translations, frames=(1, 8, 32)) -> np.ndarray:
    """Fig. 5 layout, one row per sample: input frames `frames`, then per model the translated
    image and the reconstructed frames (a blank cell between models).

    `translations` holds (fake_images, rec_clips) per model; all arrays in [-1, 1]."""
    idx = pick_frames(np.shape(clips)[1], frames)
    return sample_sheet(_video_to_image_rows(clips, translations, idx))


def translation_sheet(
    images, fake_clips, rec_images, clips, fake_images, rec_clips, frames=(1, 8, 32)
) -> np.ndarray:
    """One row per sample, image->video then video->image (the paper's Fig. 4 and 5):
    input image | translated frames | reconstructed image || input frames | translated image |
    reconstructed frames. Inputs are float arrays in [-1, 1]."""
    idx = pick_frames(np.shape(fake_clips)[1], frames)
    left = _image_to_video_rows(images, [(fake_clips, rec_images)], idx)
    right = _video_to_image_rows(clips, [(fake_images, rec_clips)], idx)
    blank = np.full_like(left[0][0], 255)
    return sample_sheet([a + [blank] + b for a, b in zip(left, right)])


def save_png(path: str | Path, image: np.ndarray) -> None:
    from PIL import Image

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)


def save_gif(path: str | Path, clip_uint8: np.ndarray, fps: int = 8) -> None:
    """An animated GIF of an (l, h, w, 3) uint8 clip, looping."""
    from PIL import Image

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    frames = [Image.fromarray(f) for f in clip_uint8]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=int(1000 / fps), loop=0)


def save_mp4(path: str | Path, clip_uint8: np.ndarray, fps: int = 8) -> None:
    """An MP4 of an (l, h, w, 3) uint8 clip: H.264 through imageio when imageio-ffmpeg is
    installed, else OpenCV's MPEG-4 Part 2 encoder ("mp4v", which the opencv-python wheels ship;
    desktop players read it, browsers want H.264)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        import imageio.v3 as iio
        import imageio_ffmpeg  # noqa: F401  (only probes that imageio can write mp4)

        iio.imwrite(path, clip_uint8, fps=fps, codec="libx264")
        return
    except ImportError:
        pass
    import cv2

    h, w = clip_uint8.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path} with the mp4v codec")
    try:
        for frame in clip_uint8:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()


SHEET_FRAMES = (1, 8, 16, 32)  # the paper's Fig. 3 columns (1-based), clamped for short clips


def generation_sheet(clips, frames=SHEET_FRAMES) -> np.ndarray:
    """One row per clip, frames 1, 8, 16, 32 (clamped to the clip length) as the paper's
    Fig. 3. `clips` are floats in [-1, 1]; returns a uint8 sheet."""
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
        parts += [
            np.asarray(label),
            np.pad(sheet, ((0, 0), (0, width - sheet.shape[1]), (0, 0)), constant_values=255),
            white,
        ]
    return np.concatenate(parts[:-1], axis=0)
