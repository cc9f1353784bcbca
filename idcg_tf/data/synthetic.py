"""Procedurally drawn faces as TFRecords: data for tests and smoke runs, no files needed.

Each "person" has its own skin tone, eye spacing and background; a clip moves and turns the face
a little over time and blinks, so the video domain has real temporal structure.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from idcg_tf.data import schema


def draw_face(
    rng: np.random.Generator, person: np.ndarray, resolution: int, t: float = 0.0
) -> np.ndarray:
    """One r x r x 3 uint8 face of `person` (a parameter vector) at time t in [0, 1]."""
    r = resolution
    yy, xx = np.mgrid[0:r, 0:r].astype(np.float32) / r
    bg = person[0:3] * 255
    skin = person[3:6] * 255
    cx = 0.5 + 0.08 * np.sin(2 * np.pi * t + person[6] * 6)
    cy = 0.5 + 0.04 * np.cos(2 * np.pi * t)
    img = np.empty((r, r, 3), np.float32)
    img[:] = bg
    face = ((xx - cx) / 0.28) ** 2 + ((yy - cy) / 0.36) ** 2 < 1
    img[face] = skin
    eye_dx = 0.08 + 0.06 * person[7]
    blink = 0.2 if abs(np.sin(6 * np.pi * t)) > 0.95 else 1.0
    for side in (-1, 1):
        eye = ((xx - cx - side * eye_dx) / 0.05) ** 2 + ((yy - cy + 0.08) / (0.03 * blink)) ** 2 < 1
        img[eye] = (20, 20, 30)
    mouth = (((xx - cx) / (0.12 + 0.04 * person[8])) ** 2 + ((yy - cy - 0.17) / 0.03) ** 2) < 1
    img[mouth] = (150, 40, 50)
    img += rng.normal(0, 4, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def write_synthetic(
    out_dir: str | Path,
    resolution: int = 32,
    frames: int = 8,
    num_images: int = 32,
    num_clips: int = 16,
    people: int = 8,
    shards: int = 2,
    split: str = "train",
    seed: int = 0,
) -> dict:
    """Writes `images-<split>-*` and `clips-<split>-*` shards; returns the two glob patterns."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    persons = rng.uniform(0, 1, size=(people, 9)).astype(np.float32)
    writers = {
        kind: [
            tf.io.TFRecordWriter(str(out / schema.shard_name(kind, split, i, shards)))
            for i in range(shards)
        ]
        for kind in ("images", "clips")
    }
    try:
        for i in range(num_images):
            p = i % people
            record = schema.image_example(
                draw_face(rng, persons[p], resolution), source="synthetic", identity=f"person{p}"
            )
            writers["images"][i % shards].write(record)
        for i in range(num_clips):
            p = i % people
            phase = rng.uniform()
            clip = np.stack(
                [
                    draw_face(rng, persons[p], resolution, phase + k / frames / 2)
                    for k in range(frames)
                ]
            )
            record = schema.clip_example(clip, source="synthetic", identity=f"person{p}")
            writers["clips"][i % shards].write(record)
    finally:
        for kind_writers in writers.values():
            for w in kind_writers:
                w.close()
    return {
        "images": str(out / f"images-{split}-*.tfrecord"),
        "clips": str(out / f"clips-{split}-*.tfrecord"),
    }
