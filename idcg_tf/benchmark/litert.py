"""`benchmark litert`: how much identity the LiteRT variants of an export keep. The FaceNet
score (Eq. 8) and verification rate of each backend's translations of the same seeded
samples, against the SavedModel's (TensorFlow) as the reference."""

from __future__ import annotations

import numpy as np


class _Translators:
    """An `ExportedModel` as `translate_and_score` calls networks."""

    def __init__(self, model):
        self.model = model

    def image_to_video(self, x, training=False):
        return self.model.image_to_video(np.asarray(x))

    def video_to_image(self, x, training=False):
        return self.model.video_to_image(np.asarray(x))


def benchmark_litert(model_dir, images: str, clips: str, samples: int = 16, log=None) -> dict:
    """{backend: {direction: {facenet_score, verification_rate, change vs tf}}} on the first
    `samples` of a seeded shuffle (seed 0) of the `images` and `clips` TFRecord globs."""
    from idcg_tf import config as config_lib
    from idcg_tf.deploy.exported_model import LITERT_BACKENDS, ExportedModel
    from idcg_tf.deploy.layout import read_export
    from idcg_tf.evaluation.metrics import verification_rate
    from idcg_tf.evaluation.selection import seeded_samples
    from idcg_tf.identity import FaceNetEmbedder
    from idcg_tf.identity.scoring import (
        DIRECTIONS,
        compiled_embedder,
        facenet_score,
        translate_and_score,
    )

    log = log or (lambda line: None)
    cfg = config_lib.from_dict(read_export(model_dir)["config"])
    data = {
        kind: np.concatenate(list(seeded_samples(pattern, kind, cfg, samples, 0, key, samples)))
        for kind, pattern, key in (("images", images, "--images"), ("clips", clips, "--clips"))
    }
    embed = compiled_embedder(FaceNetEmbedder())
    out: dict = {}
    for backend in ("tf", *LITERT_BACKENDS):
        nets = _Translators(ExportedModel(model_dir, backend))
        out[backend] = {}
        for direction, kind in zip(DIRECTIONS, ("images", "clips")):
            distances = translate_and_score(nets, embed, data[kind], direction, 64).distances
            record = {
                "samples": len(distances),
                "facenet_score": facenet_score(distances),
                "verification_rate": verification_rate(distances),
            }
            if backend != "tf":
                ref = out["tf"][direction]
                record["score_change"] = record["facenet_score"] - ref["facenet_score"]
                record["verification_change"] = (
                    record["verification_rate"] - ref["verification_rate"]
                )
            out[backend][direction] = record
            log(
                f"{backend:12} {direction}: FaceNet score {record['facenet_score']:.4f}, "
                f"verification {record['verification_rate']:.3f}"
            )
    return {"model": str(model_dir), "samples": samples, "backends": out}
