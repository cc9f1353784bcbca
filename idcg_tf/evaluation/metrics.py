"""Evaluation metrics as pure functions on numpy arrays (paper Sec. 4.3, Table 1), beside the
FaceNet score itself (`idcg_tf.identity.scoring`).

Embeddings are FaceNet's L2-normalised rows, so every distance lies in [0, 2].
"""

from __future__ import annotations

import numpy as np

# The same-person threshold lives with FaceNet's scoring (translate uses it too); evaluation's
# modules read it here.
from idcg_tf.identity.scoring import DEFAULT_THRESHOLD as DEFAULT_THRESHOLD
from idcg_tf.identity.scoring import THRESHOLD_SOURCE as THRESHOLD_SOURCE
from idcg_tf.identity.scoring import facenet_score


def _rows(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def verification_rate(distances, threshold: float = DEFAULT_THRESHOLD) -> float:
    """Share of translations FaceNet judges "same person": per-sample distance <= threshold.

    A sample's distance is its Eq. 8 mean over frames, as FaceNet verifies videos by the
    average over (image, frame) pairs.
    """
    distances = _rows(distances)
    if distances.size == 0:
        raise ValueError("verification_rate of no samples")
    return float(np.mean(distances <= threshold))


def l1_errors(originals, reconstructions) -> np.ndarray:
    """Per-sample mean absolute difference, in the [-1, 1] units of the data (cycle error)."""
    a, b = _rows(originals), _rows(reconstructions)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    return np.abs(a - b).reshape(len(a), -1).mean(axis=1)


def mean_pairwise_distance(embeddings) -> float:
    """Mean FaceNet distance between the faces of different samples: over all pairs a != b of
    ||e_a - e_b||_2, where `embeddings` is (N, D) for images or (N, L, D) for clips (then
    frame i of a against frame i of b, averaged over frames). NaN for fewer than 2 samples.

    A collapse measure: translations of different inputs that lie much closer together than
    the inputs themselves carry little of those inputs (a translator that turns every input
    into one face scores 0)."""
    e = _rows(embeddings)
    if e.ndim == 2:
        e = e[:, np.newaxis]
    n = len(e)
    if n < 2:
        return float("nan")
    # (N, N, L) distances; the diagonal (a == b) is left out of the mean.
    d = np.linalg.norm(e[:, np.newaxis] - e[np.newaxis], axis=-1).mean(axis=-1)
    return float(d[~np.eye(n, dtype=bool)].mean())


def summarize(
    distances,
    cycle_errors,
    threshold: float = DEFAULT_THRESHOLD,
    input_embeddings=None,
    output_embeddings=None,
) -> dict:
    """One direction's numbers for metrics.json from its per-sample distances and cycle errors;
    with the inputs' and the translations' embeddings, also the collapse measure
    (`input_spread`, `output_spread` and their ratio `spread_ratio`; see
    `mean_pairwise_distance`)."""
    distances, cycle_errors = _rows(distances), _rows(cycle_errors)
    out = {
        "samples": int(distances.size),
        "facenet_score": facenet_score(distances),
        "facenet_score_std": float(distances.std()),
        "verification_rate": verification_rate(distances, threshold),
        "cycle_l1": float(cycle_errors.mean()),
    }
    if input_embeddings is not None and output_embeddings is not None:
        spread_in = mean_pairwise_distance(input_embeddings)
        spread_out = mean_pairwise_distance(output_embeddings)
        out["input_spread"] = spread_in
        out["output_spread"] = spread_out
        out["spread_ratio"] = spread_out / spread_in if spread_in > 0 else float("nan")
    return out
