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
from idcg_tf.prepare.media import frame_number

ALIGNED_EXPANSION = 2.2  # aligned_images_DB: the crop is the detection box enlarged 2.2 times
LABELS_SUFFIX = ".labeled_faces.txt"
ALIGNED_PREFIX = "aligned_detect_"


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
            number = frame_number(Path(name.name))  # as list_frames numbers the files
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


# A face box from the five landmarks, in units of the eye-to-mouth distance d (from the eyes'
# midpoint e to the mouth corners' midpoint m): the box centre lies ALONG * d from e towards m
# (and ACROSS * d sideways), its longer side is SIDE * d: MTCNN's own boxes against its own
# landmarks, medians over the demo's real faces (`idcg-benchmark prepare` measures them again:
# its "landmark_box" record; docs/data.md). On CelebA's first aligned image this gives a 106 px
# box centred at (88, 126) of the 178x218 image, so the default crop (margin 0.2) is 148 px.
LANDMARK_ALONG, LANDMARK_ACROSS, LANDMARK_SIDE = 0.35, 0.0, 2.52


def landmark_box(eyes: tuple, mouth: tuple) -> Face:
    """The MTCNN-like square face box of eye and mouth-corner positions ((x, y) pairs)."""
    import numpy as np

    (lx, ly), (rx, ry) = eyes
    (mlx, mly), (mrx, mry) = mouth
    e = np.array([(lx + rx) / 2, (ly + ry) / 2])
    m = np.array([(mlx + mrx) / 2, (mly + mry) / 2])
    d = float(np.linalg.norm(m - e))
    axis = (m - e) / d
    across = np.array([-axis[1], axis[0]])
    cx, cy = e + LANDMARK_ALONG * d * axis + LANDMARK_ACROSS * d * across
    half = LANDMARK_SIDE * d / 2
    return Face(cx - half, cy - half, cx + half, cy + half, 1.0)


def read_celeba_landmarks(path: str | Path) -> dict[str, str]:
    """{file name: "box:x0,y0,x1,y1"} of CelebA's list_landmarks_align_celeba: the official
    text form (a count line, a header line, then ``000001.jpg 69 109 106 113 77 142 73 152 108
    154``: left eye, right eye, nose, left and right mouth corner) or the Kaggle CSV
    (``image_id,lefteye_x,...`` header)."""
    boxes = {}
    path = Path(path)
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.replace(",", " ").split()
            if len(parts) != 11 or not all(p.lstrip("-").isdigit() for p in parts[1:]):
                continue  # the count line, the header, a blank line
            v = [float(p) for p in parts[1:]]
            face = landmark_box(((v[0], v[1]), (v[2], v[3])), ((v[6], v[7]), (v[8], v[9])))
            boxes[parts[0]] = f"box:{face.x0:.1f},{face.y0:.1f},{face.x1:.1f},{face.y1:.1f}"
    return boxes


def box_face(faces: str) -> Face:
    """The Face of an item's "box:x0,y0,x1,y1"."""
    x0, y0, x1, y1 = (float(v) for v in faces[len("box:") :].split(","))
    return Face(x0, y0, x1, y1, 1.0)
