"""How a face becomes a crop: prepare_data's defaults, which its manifest and an export record
and translate reads back, so training data and translated inputs are cropped alike."""

from __future__ import annotations

MARGIN = 0.2  # crop side = longer box side * (1 + 2 * margin)
MIN_CONFIDENCE = 0.9  # MTCNN confidence below which a detection is ignored
SMOOTH = 2.0  # sigma, in frames, of the smoothing of crop boxes along a track
KEYS = ("margin", "min_confidence", "min_face", "smooth")


def default_min_face(resolution: int) -> int:
    """Smallest face (and image) side in pixels kept for r x r crops: r / 2."""
    return max(1, resolution // 2)


def crop_settings(resolution: int, given: dict | None = None) -> dict:
    """The four crop settings (`KEYS`): those in `given`, the defaults for the others."""
    given = given or {}
    return {
        "margin": float(given.get("margin", MARGIN)),
        "min_confidence": float(given.get("min_confidence", MIN_CONFIDENCE)),
        "min_face": int(given.get("min_face", default_min_face(resolution))),
        "smooth": float(given.get("smooth", SMOOTH)),
    }
