"""Faces a dataset already located, used instead of running MTCNN on every frame.

- YouTube Faces ``frame_images_DB``: ``<person>.labeled_faces.txt`` next to the person's folder
  holds one line per labelled frame, ``<person>\\<video>\\<video>.<frame>.jpg,0,x,y,w,h,0.0,1``
  (x, y the box centre; the dataset's README). A frame with a line takes that box; a frame
  without one is detected.
- YouTube Faces ``aligned_images_DB`` (``<person>/<video>/aligned_detect_<video>.<frame>.jpg``):
  each file is the dataset's detection box enlarged 2.2 times, cropped and aligned (its
  README), so the face box is the centred 1 / 2.2 of the file; nothing is detected.

Either way the crop geometry is the one of detected faces (`faces.square_box`: the box side
times 1 + 2 * margin), and the per-video stats say how many frames took each source.
"""

from __future__ import annotations

import csv
from pathlib import Path, PureWindowsPath

from idcg_tf.prepare.faces import Face

ALIGNED_EXPANSION = 2.2  # aligned_images_DB: the crop is the detection box enlarged 2.2 times
LABELS_SUFFIX = ".labeled_faces.txt"
ALIGNED_PREFIX = "aligned_detect_"


def frame_number(name: str) -> int | None:
    """The frame number of a YouTube Faces frame name (``3.618.jpg`` -> 618)."""
    parts = Path(name).stem.split(".")
    return int(parts[-1]) if parts[-1].isdigit() else None


def read_labels(path: str, video: str) -> dict[int, Face]:
    """{frame number: box} of one video (`video`: its folder name) in a labeled_faces.txt.
    Lines that do not parse are ignored (the file is the dataset's, not the user's)."""
    boxes = {}
    with open(path, newline="") as f:
        for row in csv.reader(f):
            if len(row) < 6:
                continue
            name = PureWindowsPath(row[0].strip())  # the dataset writes backslashes
            if len(name.parts) < 2 or name.parts[-2] != video:
                continue
            try:
                cx, cy, w, h = (float(v) for v in row[2:6])
            except ValueError:
                continue
            number = frame_number(name.name)
            if number is not None and w > 0 and h > 0:
                boxes[number] = Face(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, 1.0)
    return boxes


def aligned_face(frame_shape: tuple[int, ...]) -> Face:
    """The face box of an aligned crop: its centred 1 / ALIGNED_EXPANSION."""
    h, w = frame_shape[:2]
    bw, bh = w / ALIGNED_EXPANSION, h / ALIGNED_EXPANSION
    return Face((w - bw) / 2, (h - bh) / 2, (w + bw) / 2, (h + bh) / 2, 1.0)


class DatasetFaces:
    """The faces of one video's frames that its dataset gives (`faces` of its source item:
    "labels:<labeled_faces.txt>" or "aligned"); `get` answers None where it gives none."""

    def __init__(self, faces: str, video_path: str, min_face: float):
        self.aligned = faces == "aligned"
        self.min_face = min_face
        self.labels = {}
        if faces.startswith("labels:"):
            self.labels = read_labels(faces[len("labels:") :], Path(video_path).name)

    def get(self, index: int, frame) -> list[Face] | None:
        if self.aligned:
            face = aligned_face(frame.shape)
        elif index in self.labels:
            face = self.labels[index]
        else:
            return None
        return [face] if face.side >= self.min_face else []
