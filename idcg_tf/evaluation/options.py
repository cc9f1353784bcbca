"""What an evaluation measures and draws (`tools/evaluate.py`'s options)."""

from __future__ import annotations

import dataclasses
import math

from idcg_tf.errors import UserError
from idcg_tf.evaluation import metrics

PAPER_SAMPLES = 1000  # Sec. 4.3: "the generated 1000 samples"
# How the generators' BatchNorm normalises at evaluation: "moving" (the averages learnt in
# training, Keras inference mode, as exported models) or "batch" (each batch's own statistics,
# BatchNorm in training mode, as the authors' TF1 code sampled).
BATCHNORM_MODES = ("moving", "batch")


@dataclasses.dataclass(frozen=True)
class EvalOptions:
    """What `evaluate` measures and draws.

    Args:
        samples: test samples per direction (fewer when the split holds fewer).
        threshold: same-person threshold on the FaceNet L2 distance (verification rate).
        images, clips: TFRecord globs to evaluate on; None takes each run's test split.
        curve: also score every kept checkpoint (Fig. 6) on `curve_samples` samples.
        frames: 1-based frame numbers shown in the sheets (clamped to short clips).
        sheet_samples: rows of the sample sheets (and GIFs per run).
        batch_size: samples translated at once; embed_batch: faces per FaceNet call.
        seed: picks which samples are evaluated.
        facenet_weights: Keras weights for FaceNet; None uses the default conversion.
        batchnorm: "moving" (default) or "batch" (see BATCHNORM_MODES); with "batch" a
            sample's translation depends on the others in its batch of `batch_size`.
    """

    samples: int = PAPER_SAMPLES
    threshold: float = metrics.DEFAULT_THRESHOLD
    images: str | None = None
    clips: str | None = None
    curve: bool = False
    curve_samples: int | None = None
    frames: tuple[int, ...] = (1, 8, 32)
    sheet_samples: int = 8
    batch_size: int = 16
    embed_batch: int = 64
    seed: int = 0
    facenet_weights: str | None = None
    batchnorm: str = "moving"

    @property
    def training(self) -> bool:
        """The `training` flag the generators are called with."""
        return self.batchnorm == "batch"

    def check(self) -> EvalOptions:
        if self.batchnorm not in BATCHNORM_MODES:
            raise UserError(
                f"--batchnorm: expected one of {', '.join(BATCHNORM_MODES)}, got {self.batchnorm!r}"
            )
        for key in ("samples", "sheet_samples", "batch_size", "embed_batch"):
            if getattr(self, key) < 1:
                raise UserError(f"--{key.replace('_', '-')}: must be >= 1")
        if self.curve_samples is not None and self.curve_samples < 1:
            raise UserError("--curve-samples: must be >= 1")
        if not 0 < self.threshold < 2 or not math.isfinite(self.threshold):
            # Normalised embeddings are at most 2 apart: other values judge everything alike.
            raise UserError(f"--threshold: must be in (0, 2), got {self.threshold}")
        if not self.frames or any(f < 1 for f in self.frames):
            raise UserError(f"--frames: expected frame numbers >= 1, got {list(self.frames)}")
        if (self.images is None) != (self.clips is None):
            raise UserError("--images and --clips: give both or neither")
        return self
