"""Faces: MTCNN detection, the Haar frontal filter, square crops, and face tracks in videos.

Detection (`FaceDetector`) runs MTCNN (Zhang et al. 2016, the detector of the paper) on a copy of
each image scaled so that the smallest face we keep (`min_face` source pixels) is MTCNN's own
20-pixel minimum: large frames get cheaper and tight face crops (LFW-style thumbnails) get
enough pixels and border for its 12-pixel proposal window. Boxes come back in source pixels.

A crop (`square_box`, `crop_square`) is the square of side ``max(w, h) * (1 + 2 * margin)``
centred on the box, replicated at the image border where it sticks out, resized to r x r.

A video keeps one face track (`main_face_runs`): detections are linked frame to frame by box
overlap, the track with the most face (frames x box size) wins, and it is cut into runs of
consecutive frames with a face; a frame without one ends the run, so clips never bridge it.
Box centres and sizes are smoothed along each run (`smooth_boxes`) so crops do not jitter.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

import numpy as np

MTCNN_MIN_FACE = 20  # MTCNN's default smallest face, in the pixels it sees
DETECT_MIN_SIDE = 112  # images whose shorter side is smaller are enlarged before detection
DETECT_PAD = 0.125  # border added around enlarged images, as a fraction of their side
DETECT_BATCH = 16  # same-size images detected in one MTCNN call
LINK_IOU = 0.3  # overlap that links a detection to the previous box of a track
LINK_GAP = 15  # frames a track may miss and still be the same face (about half a second)


@dataclasses.dataclass(frozen=True)
class Face:
    """One detection: box corners in source pixels and MTCNN's confidence."""

    x0: float
    y0: float
    x1: float
    y1: float
    confidence: float

    @property
    def side(self) -> float:
        return max(self.x1 - self.x0, self.y1 - self.y0)

    @property
    def area(self) -> float:
        return (self.x1 - self.x0) * (self.y1 - self.y0)


def iou(a: Face, b: Face) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / (a.area + b.area - inter)


class FaceDetector:
    """MTCNN with size-aware rescaling and filtering; build once per process (loads weights).

    Args:
        min_face: faces whose longer box side is below this many source pixels are dropped.
        min_confidence: detections below this MTCNN confidence are dropped.
    """

    def __init__(self, min_face: int, min_confidence: float):
        self.min_face = min_face
        self.min_confidence = min_confidence
        self._model = None  # loaded on first use: dataset-given faces may need none

    @property
    def _mtcnn(self):
        if self._model is None:
            from mtcnn import MTCNN

            self._model = MTCNN()
        return self._model

    def _plan(self, shape: tuple[int, int]) -> tuple[float, int]:
        """The scale and padding (in scaled pixels) to detect an image of `shape` at."""
        h, w = shape
        scale = min(1.0, MTCNN_MIN_FACE / self.min_face)
        if min(h, w) * scale < DETECT_MIN_SIDE:
            scale = DETECT_MIN_SIDE / min(h, w)
            return scale, int(round(DETECT_PAD * DETECT_MIN_SIDE))
        return scale, 0

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Face]]:
        """Faces in each HxWx3 uint8 RGB image, most confident first."""
        import cv2

        results: list[list[Face]] = [[] for _ in images]
        by_shape: dict[tuple[int, int], list[int]] = {}
        for i, image in enumerate(images):
            by_shape.setdefault(image.shape[:2], []).append(i)
        for shape, indices in by_shape.items():
            scale, pad = self._plan(shape)
            size = (max(1, round(shape[1] * scale)), max(1, round(shape[0] * scale)))
            for start in range(0, len(indices), DETECT_BATCH):
                batch = indices[start : start + DETECT_BATCH]
                prepared = []
                for i in batch:
                    image = images[i]
                    if scale != 1.0:
                        image = cv2.resize(
                            image,
                            size,
                            interpolation=(cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC),
                        )
                    if pad:
                        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
                    prepared.append(image)
                found = self._mtcnn.detect_faces(prepared, box_format="xyxy")
                for i, faces in zip(batch, found):
                    results[i] = self._keep(faces, scale, pad, shape)
        return results

    def _keep(
        self, faces: list[dict], scale: float, pad: int, shape: tuple[int, int]
    ) -> list[Face]:
        h, w = shape
        kept = []
        for face in faces:
            x0, y0, x1, y1 = ((float(v) - pad) / scale for v in face["box"])
            f = Face(
                max(0.0, x0),
                max(0.0, y0),
                min(float(w), x1),
                min(float(h), y1),
                float(face["confidence"]),
            )
            if f.confidence >= self.min_confidence and f.side >= self.min_face and f.area > 0:
                kept.append(f)
        return sorted(kept, key=lambda f: -f.confidence)


def largest_face(faces: Sequence[Face]) -> Face | None:
    return max(faces, key=lambda f: f.area) if faces else None


def square_box(face: Face, margin: float) -> tuple[float, float, float]:
    """(centre x, centre y, side) of the square crop around `face`."""
    return ((face.x0 + face.x1) / 2, (face.y0 + face.y1) / 2, face.side * (1 + 2 * margin))


def crop_square(
    image: np.ndarray, cx: float, cy: float, side: float, resolution: int
) -> np.ndarray:
    """The square of `side` centred on (cx, cy), edge-replicated outside the image, r x r."""
    import cv2

    h, w = image.shape[:2]
    n = max(1, int(round(side)))
    x0 = int(round(cx - n / 2))
    y0 = int(round(cy - n / 2))
    x1, y1 = x0 + n, y0 + n
    inside = image[max(0, y0) : min(h, y1), max(0, x0) : min(w, x1)]
    if inside.size == 0:
        raise ValueError(f"crop ({x0},{y0})-({x1},{y1}) lies outside the {w}x{h} image")
    pads = (max(0, -y0), max(0, y1 - h), max(0, -x0), max(0, x1 - w))
    if any(pads):
        inside = cv2.copyMakeBorder(inside, *pads, cv2.BORDER_REPLICATE)
    interpolation = cv2.INTER_AREA if n > resolution else cv2.INTER_LINEAR
    return np.ascontiguousarray(
        cv2.resize(inside, (resolution, resolution), interpolation=interpolation)
    )


class FrontalFilter:
    """OpenCV's Haar frontal-face cascade, used as the paper uses it on CelebA: a face MTCNN
    found is kept only if the cascade also finds a frontal face over its centre."""

    CASCADE = "haarcascade_frontalface_default.xml"
    SIDE = 96  # the face region is resized to this before the cascade runs

    def __init__(self):
        import cv2

        path = os.path.join(cv2.data.haarcascades, self.CASCADE)
        self._cascade = cv2.CascadeClassifier(path)
        if self._cascade.empty():
            raise RuntimeError(f"cannot load the Haar cascade {path}")

    def is_frontal(self, image: np.ndarray, face: Face) -> bool:
        import cv2

        cx, cy, side = square_box(face, margin=0.25)
        region = crop_square(image, cx, cy, side, self.SIDE)
        gray = cv2.cvtColor(region, cv2.COLOR_RGB2GRAY)
        # The face fills about 2/3 of the region; a much smaller hit is something else.
        found = self._cascade.detectMultiScale(
            gray, scaleFactor=1.1, minNeighbors=3, minSize=(self.SIDE * 2 // 5,) * 2
        )
        centre = self.SIDE / 2
        return any(x <= centre <= x + w and y <= centre <= y + h for x, y, w, h in found)


# --------------------------------------------------------------------------- tracks in videos


@dataclasses.dataclass
class Run:
    """Consecutive frames of one face track: frame indices and a box per frame."""

    indices: list[int]
    faces: list[Face]

    def __len__(self) -> int:
        return len(self.indices)


def main_face_runs(detections: Sequence[tuple[int, Sequence[Face]]]) -> list[Run]:
    """The runs of the dominant face track of a video.

    `detections` holds (frame index, faces) for every decoded frame in order. A detection joins
    the track whose last box (at most `LINK_GAP` frames back) it overlaps most (IoU >=
    `LINK_IOU`); otherwise it starts a track. The track with the largest sum of box sides
    (long and large) is the video's face; it is cut wherever a frame index is skipped.
    """
    tracks: list[list[tuple[int, Face]]] = []
    for index, faces in detections:
        taken: set[int] = set()
        for face in sorted(faces, key=lambda f: -f.area):
            best, best_iou = None, LINK_IOU
            for t, track in enumerate(tracks):
                last_index, last = track[-1]
                if t in taken or index - last_index > LINK_GAP + 1 or last_index == index:
                    continue
                overlap = iou(face, last)
                if overlap >= best_iou:
                    best, best_iou = t, overlap
            if best is None:
                tracks.append([(index, face)])
                best = len(tracks) - 1
            else:
                tracks[best].append((index, face))
            taken.add(best)
    if not tracks:
        return []
    main = max(tracks, key=lambda track: sum(f.side for _, f in track))
    runs: list[Run] = []
    for index, face in main:
        if runs and runs[-1].indices[-1] == index - 1:
            runs[-1].indices.append(index)
            runs[-1].faces.append(face)
        else:
            runs.append(Run([index], [face]))
    return runs


def smooth_boxes(
    faces: Sequence[Face], margin: float, sigma: float
) -> list[tuple[float, float, float]]:
    """Square crop boxes (cx, cy, side) along a run, Gaussian-smoothed over `sigma` frames.

    The kernel is cut at the run ends and renormalised, so the first and last frames are not
    pulled towards zero; `sigma` 0 keeps the raw boxes.
    """
    boxes = np.array([square_box(f, margin) for f in faces], dtype=np.float64)
    if sigma <= 0 or len(boxes) < 2:
        return [tuple(b) for b in boxes]
    radius = int(np.ceil(3 * sigma))
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    n = len(boxes)
    smoothed = np.empty_like(boxes)
    for i in range(n):
        lo, hi = max(0, i - radius), min(n, i + radius + 1)
        weights = kernel[lo - i + radius : hi - i + radius]
        smoothed[i] = weights @ boxes[lo:hi] / weights.sum()
    return [tuple(b) for b in smoothed]


def clip_starts(first: int, last: int, frames: int, stride: int) -> list[int]:
    """Start frames of the clips of `frames` consecutive frames within [first, last]."""
    return list(range(first, last - frames + 2, stride))
