"""Reading the media of a source item: still images in any mode Pillow reads as RGB uint8,
frame folders in frame order, video files decoded with OpenCV."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from idcg_tf.prepare.sources import IMAGE_EXTENSIONS, Item, SkipInput, natural_key


def _to_rgb8(image) -> np.ndarray:
    """Any Pillow image as HxWx3 uint8 RGB."""
    from PIL import Image

    mode = image.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        # Pillow's own convert() clips 16-bit and float values at 255 instead of scaling them.
        values = np.asarray(image).astype(np.float64)
        peak = values.max() if values.size else 0.0
        if mode.startswith("I;16") or 255 < peak <= 65535:
            values = values / 257.0
        elif mode == "F" and peak <= 1.0:
            values = values * 255.0
        gray = np.clip(np.round(values), 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        # Transparent pixels carry arbitrary colours; a white backdrop is what viewers show.
        rgba = image.convert("RGBA")
        backdrop = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(backdrop, rgba).convert("RGB"))
    return np.asarray(image.convert("RGB"))


def jpeg_damage(data: bytes) -> str | None:
    """What libjpeg reports while decoding a JPEG that decodes only with errors (e.g. "Corrupt
    JPEG data: premature end of data segment": damaged bytes, part of the picture grey), or
    None for an intact JPEG and for any other file. Pillow decodes such files without a word.
    A decode at 1/8 scale walks every coefficient of the file, so it finds the same damage."""
    import simplejpeg

    if not data.startswith(b"\xff\xd8"):
        return None
    try:
        simplejpeg.decode_jpeg(data, min_height=1, min_width=1, strict=True)
        return None
    except ValueError as warning:
        try:  # a warning (damage) if it decodes when warnings are allowed; else not ours to say
            simplejpeg.decode_jpeg(data, min_height=1, min_width=1, strict=False)
        except ValueError:
            return None
        return f"libjpeg: {warning}"


def read_image(path: str, on_damage=None) -> np.ndarray:
    """Reads a still image as HxWx3 uint8 RGB, upright per its EXIF orientation.

    Raises `SkipInput` for empty, truncated or undecodable files, and for a JPEG that decodes
    only with errors (`jpeg_damage`), unless `on_damage` is given: then it is called with the
    reason and the image (what decodes of it) is returned.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if os.path.getsize(path) == 0:
        raise SkipInput("empty file", "the file has zero bytes")
    with open(path, "rb") as f:
        data = f.read()  # read once, for Pillow and for the damage check
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
            pixels = np.ascontiguousarray(_to_rgb8(image))
    except UnidentifiedImageError:
        raise SkipInput("unreadable", "not an image Pillow can identify") from None
    except (OSError, SyntaxError, ValueError) as error:  # truncated or corrupt data
        raise SkipInput("unreadable", f"cannot decode: {error}") from None
    damage = jpeg_damage(data)  # what Pillow decoded without a word
    if damage and on_damage is None:
        raise SkipInput("damaged", f"decodes only with errors ({damage})")
    if damage:
        on_damage(f"decodes only with errors ({damage}); kept (--keep-damaged)")
    return pixels


def frame_number(path: Path) -> int | None:
    """The last number in a frame file's name (YouTube Faces' ``3.618.jpg`` -> 618)."""
    numbers = re.findall(r"\d+", path.stem)
    return int(numbers[-1]) if numbers else None


def list_frames(folder: str) -> list[tuple[int, str]]:
    """The frames of a frame folder as (frame index, path), in order.

    The index is the last number in the file name (YouTube Faces names frames
    ``<video>.<frame>.jpg``); where names carry no distinct numbers the position is used.
    """
    files = sorted(
        (
            p
            for p in Path(folder).iterdir()
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS
        ),
        key=lambda p: natural_key(p.name),
    )
    numbers = [frame_number(p) for p in files]
    if None in numbers or len(set(numbers)) != len(numbers) or numbers != sorted(numbers):
        numbers = list(range(len(files)))
    return [(n, str(p)) for n, p in zip(numbers, files)]


def iter_video_frames(
    item: Item, limit: int = 0, problems: list | None = None, keep_damaged: bool = False
) -> Iterator[tuple[int, np.ndarray | None]]:
    """Yields (frame index, HxWx3 uint8 RGB frame) for a video file or a frame folder.

    A frame of a frame folder that cannot be read, or (without `keep_damaged`) decodes only
    with errors, is yielded as None (it breaks face runs) and, with `problems`, listed there
    as {"frame", "reason", "detail"}; a kept damaged frame is listed too. A video file that
    cannot be opened raises `SkipInput`. `limit` > 0 stops after that many frames. Decoding is
    deterministic, so two passes over one item see the same frames.
    """
    if item.is_frame_folder:
        for count, (index, path) in enumerate(list_frames(item.path)):
            if limit and count >= limit:
                return

            def note(reason, detail, path=path):
                if problems is not None:
                    problems.append({"frame": path, "reason": reason, "detail": detail})

            kept = (lambda detail: note("damaged", detail)) if keep_damaged else None
            try:
                yield index, read_image(path, on_damage=kept)
            except SkipInput as skip:
                note(skip.reason, skip.detail)
                yield index, None
        return

    import cv2

    if os.path.getsize(item.path) == 0:
        raise SkipInput("empty file", "the file has zero bytes")
    capture = cv2.VideoCapture(item.path)
    try:
        if not capture.isOpened():
            raise SkipInput("unreadable", "OpenCV cannot open it (truncated or not a video)")
        index = 0
        while not limit or index < limit:
            ok, frame = capture.read()
            if not ok or frame is None:
                return
            yield index, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        capture.release()
