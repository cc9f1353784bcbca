"""Finding what to translate: image and video files, folders of them, frame folders; and
the one-line `Failure` of an input that cannot be translated."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from pathlib import Path

from idcg_tf.errors import UserError
from idcg_tf.prepare import sources as sources_lib


@dataclasses.dataclass(frozen=True)
class Failure:
    """An input that could not be translated, and why."""

    path: str
    reason: str
    detail: str

    def line(self) -> str:
        return f"{self.path}: {self.reason}: {self.detail}"


@dataclasses.dataclass(frozen=True)
class MediaInput:
    """One input to translate and where its outputs go."""

    kind: str  # "image" | "video" | "frames"
    path: str
    stem: str  # output path without suffix, relative to the output folder


def _media_kind(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix in sources_lib.IMAGE_EXTENSIONS:
        return "image"
    if suffix in sources_lib.VIDEO_EXTENSIONS:
        return "video"
    return None


def find_inputs(
    paths: Iterable[str], frames_folders: bool = False
) -> tuple[list[MediaInput], list[Failure]]:
    """The inputs named by `paths` (files and folders), and the paths that are none."""
    found: list[MediaInput] = []
    failed: list[Failure] = []
    for given in paths:
        root = Path(given).expanduser()
        if not root.exists():
            failed.append(Failure(given, "not found", "no such file or directory"))
        elif root.is_file():
            kind = _media_kind(root)
            if kind is None:
                failed.append(
                    Failure(
                        given,
                        "unsupported",
                        f"{root.suffix or 'no extension'} "
                        "is neither an image nor a video extension",
                    )
                )
            else:
                found.append(MediaInput(kind, str(root), root.stem))
        elif frames_folders:
            try:
                items, _ = sources_lib.enumerate_source(
                    sources_lib.Source("videos", "frames", str(root.resolve()))
                )
            except UserError:
                failed.append(Failure(given, "no frames", "no folder of image files in it"))
                continue
            for item in items:
                rel = Path(item.path).relative_to(root.resolve())
                stem = (Path(root.resolve().name) / rel).as_posix()
                found.append(MediaInput("frames", item.path, stem))
        else:
            files = []
            for folder, dirs, names in os.walk(root):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                files += [Path(folder, n) for n in sorted(names) if not n.startswith(".")]
            media = [(f, _media_kind(f)) for f in files]
            media = [(f, k) for f, k in media if k is not None]
            if not media:
                failed.append(
                    Failure(
                        given,
                        "no media",
                        "the folder holds no image or video file (use --frames for frame folders)",
                    )
                )
            for f, kind in media:
                stem = (Path(root.resolve().name) / f.relative_to(root).with_suffix("")).as_posix()
                found.append(MediaInput(kind, str(f), stem))
    # Two inputs must never write the same outputs (a.png and a.jpg, or a file given twice).
    seen: dict[str, int] = {}
    unique = []
    for item in found:
        n = seen.get(item.stem, 0) + 1
        seen[item.stem] = n
        unique.append(item if n == 1 else dataclasses.replace(item, stem=f"{item.stem}_{n}"))
    return unique, failed
