"""`benchmark facenet`: cost of Model3's identity loss (Eq. 8) per sample."""

from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

from idcg_tf.benchmark import timing
from idcg_tf.config import Config


def benchmark_facenet(cfg: Config, batch: int = 4, repeats: int = 10, log=None) -> dict:
    """Forward and forward+backward (to the generated images and clips) of
    `facenet_identity_loss` with the frozen FaceNet, at the config's sizes."""
    from idcg_tf.identity import FaceNetEmbedder
    from idcg_tf.losses import facenet_identity_loss

    log = log or (lambda line: None)
    m, step = cfg.task.model, cfg.task.loss.facenet_frame_step
    start = time.perf_counter()
    embedder = FaceNetEmbedder(cfg.task.loss.facenet_weights or None)
    load_seconds = time.perf_counter() - start
    log(f"FaceNet loaded in {load_seconds:.1f} s")
    g = tf.random.Generator.from_seed(0)
    image_shape = [batch, m.resolution, m.resolution, m.channels]
    clip_shape = [batch, m.frames, *image_shape[1:]]
    images, fake_images = g.uniform(image_shape, -1, 1), g.uniform(image_shape, -1, 1)
    clips, fake_clips = g.uniform(clip_shape, -1, 1), g.uniform(clip_shape, -1, 1)

    @tf.function
    def forward(fake_clips, fake_images):
        return facenet_identity_loss(embedder, images, fake_clips, fake_images, clips, step)

    @tf.function
    def forward_backward(fake_clips, fake_images):
        with tf.GradientTape() as tape:
            tape.watch([fake_clips, fake_images])
            loss = tf.reduce_sum(forward(fake_clips, fake_images))
        return tape.gradient(loss, [fake_clips, fake_images])

    out = {
        "section": "facenet",
        "batch": batch,
        "frame_step": step,
        "faces_per_sample": 2 + 2 * len(range(0, m.frames, step)),
        "load_seconds": load_seconds,
    }
    for name, fn in (("forward", forward), ("forward_backward", forward_backward)):
        fn(fake_clips, fake_images)  # trace
        seconds = timing.time_calls(
            lambda fn=fn: [np.asarray(t) for t in tf.nest.flatten(fn(fake_clips, fake_images))],
            repeats,
        )
        median = float(np.median(seconds))
        out[f"{name}_seconds"] = median
        out[f"{name}_seconds_per_sample"] = median / batch
        log(f"facenet {name}: {median / batch * 1e3:.1f} ms per sample")
    return out
