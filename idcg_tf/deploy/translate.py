"""Translating face media with an exported model (a folder written by tools/export.py).

Inputs, each a file or a folder:

    still image (jpg, png, bmp, webp)   the largest face is detected and cropped as
                                        prepare_data does, translated to a clip, written as
                                        <stem>_video.gif, <stem>_video.mp4 and
                                        <stem>_strip.png (input | frames)
    video file (mp4, avi, mov, mkv, webm), or a frame folder (with `frames_folders`)
                                        the main face is tracked, the first clip of l frames
                                        with the face (or every one) is cropped and
                                        translated to <stem>_image.png, plus
                                        <stem>_sheet.png (frames | image, a row per clip)
    folder                              every image and video in it, recursively; outputs
                                        keep the folder's layout under the output folder

Crop settings (margin, detector thresholds, box smoothing), resolution and clip length come
from the export's export.json. An input that cannot be translated (unreadable, no face, too
few frames, ...) is reported as one `Failure` and the others are still done.

Inputs are found by `idcg_tf.deploy.media_inputs`, the model runs in
`idcg_tf.deploy.exported_model`, faces of videos come from `idcg_tf.prepare.video_faces` (the
extraction prepare_data uses).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from idcg_tf.deploy.exported_model import ExportedModel
from idcg_tf.deploy.media_inputs import Failure, MediaInput, find_inputs
from idcg_tf.errors import UserError
from idcg_tf.prepare import faces as faces_lib
from idcg_tf.prepare import media
from idcg_tf.prepare import sources as sources_lib
from idcg_tf.prepare.crop import crop_settings
from idcg_tf.prepare.video_faces import ClipCut, face_clips
from idcg_tf.visualize import sample_sheet, save_gif, save_mp4, save_png, to_uint8


@dataclasses.dataclass
class TranslateResult:
    translated: list[str] = dataclasses.field(default_factory=list)  # input paths
    written: list[str] = dataclasses.field(default_factory=list)  # output files
    failed: list[Failure] = dataclasses.field(default_factory=list)


class _Work:
    """What translating one batch of inputs needs: model, detector, settings, output."""

    def __init__(
        self, model: ExportedModel, output: Path, batch_size: int, fps: int, all_clips: bool
    ):
        settings = crop_settings(model.resolution, model.meta.get("face_crop"))
        self.min_confidence = settings["min_confidence"]
        self.min_face = settings["min_face"]
        self.cut = ClipCut(model.frames, model.resolution, settings["margin"], settings["smooth"])
        self.model = model
        self.output = output
        self.batch_size = batch_size
        self.fps = fps
        self.all_clips = all_clips
        self.detector = faces_lib.FaceDetector(self.min_face, self.min_confidence)

    # --------------------------------------------------------------- pixels in and out
    def to_model(self, crops: np.ndarray) -> np.ndarray:
        """uint8 RGB crops -> float32 in [-1, 1] with the model's channels."""
        x = crops.astype(np.float32) / 127.5 - 1.0
        if self.model.channels == 1:
            x = x.mean(axis=-1, keepdims=True)
        return x

    @staticmethod
    def to_pixels(x: np.ndarray) -> np.ndarray:
        """[-1, 1] model output -> uint8 RGB."""
        pixels = to_uint8(x)
        return np.repeat(pixels, 3, axis=-1) if pixels.shape[-1] == 1 else pixels

    # --------------------------------------------------------------- stills
    def crop_still(self, path: str) -> np.ndarray:
        image = media.read_image(path)
        h, w = image.shape[:2]
        if min(h, w) < self.min_face:
            raise sources_lib.SkipInput(
                "too small", f"{w}x{h} pixels, below the {self.min_face} px smallest face"
            )
        face = faces_lib.largest_face(self.detector.detect([image])[0])
        if face is None:
            raise sources_lib.SkipInput(
                "no face",
                f"no face of at least {self.min_face} px with "
                f"confidence >= {self.min_confidence} in the image",
            )
        return faces_lib.crop_square(
            image, *faces_lib.square_box(face, self.cut.margin), self.cut.resolution
        )

    def stills(self, inputs: Sequence[MediaInput], result: TranslateResult, report) -> None:
        crops, done = [], []
        for item in inputs:
            try:
                crops.append(self.crop_still(item.path))
                done.append(item)
            except sources_lib.SkipInput as skip:
                report(Failure(item.path, skip.reason, skip.detail))
            except Exception as error:  # noqa: BLE001 - one bad file must not stop the rest
                report(Failure(item.path, "failed", f"{type(error).__name__}: {error}"))
        if not crops:
            return
        clips = self.to_pixels(
            self.model.image_to_video(self.to_model(np.stack(crops)), self.batch_size)
        )
        for item, crop, clip in zip(done, crops, clips):
            base = self.output / item.stem
            paths = [
                Path(f"{base}_video.gif"),
                Path(f"{base}_video.mp4"),
                Path(f"{base}_strip.png"),
            ]
            save_gif(paths[0], clip, self.fps)
            save_mp4(paths[1], clip, self.fps)
            save_png(paths[2], sample_sheet([[crop, *clip]]))
            result.translated.append(item.path)
            result.written += [str(p) for p in paths]

    # --------------------------------------------------------------- videos
    def clips_of(self, item: MediaInput) -> tuple[np.ndarray, list[int]]:
        """The face clips of a video as uint8 (k, l, r, r, 3), and their first frames; without
        `all_clips` only the first clip, and reading stops once it is found."""
        video = sources_lib.Item(
            "videos", "frames" if item.kind == "frames" else "videos", item.path
        )
        clips = face_clips(video, self.detector, self.cut, first_clip_only=not self.all_clips)
        return np.stack([c.pixels for c in clips]), [c.indices[0] for c in clips]

    def video(self, item: MediaInput, result: TranslateResult, report) -> None:
        try:
            clips, starts = self.clips_of(item)
        except sources_lib.SkipInput as skip:
            report(Failure(item.path, skip.reason, skip.detail))
            return
        except Exception as error:  # noqa: BLE001 - one bad file must not stop the rest
            report(Failure(item.path, "failed", f"{type(error).__name__}: {error}"))
            return
        images = self.to_pixels(self.model.video_to_image(self.to_model(clips), self.batch_size))
        base = self.output / item.stem
        paths = []
        for start, image in zip(starts, images):
            path = Path(f"{base}_f{start:05d}_image.png" if self.all_clips else f"{base}_image.png")
            save_png(path, image)
            paths.append(path)
        sheet = Path(f"{base}_sheet.png")
        save_png(sheet, sample_sheet([[*clip, image] for clip, image in zip(clips, images)]))
        result.translated.append(item.path)
        result.written += [str(p) for p in [*paths, sheet]]


def translate_paths(
    model: ExportedModel,
    paths: Sequence[str],
    output: str | os.PathLike,
    all_clips: bool = False,
    batch_size: int = 8,
    frames_folders: bool = False,
    fps: int = 8,
    progress: bool = True,
    report: Callable[[Failure], None] | None = None,
) -> TranslateResult:
    """Translates every input under `paths` into `output`; see the module doc.

    Args:
        model: the exported model.
        paths: files and folders.
        output: the output folder (created).
        all_clips: translate every clip of a video, not only the first.
        batch_size: samples per model call; still images are also read in groups this size.
        frames_folders: folders are frame folders (one video per folder of images).
        fps: frame rate of the written GIFs and MP4s.
        progress: show a progress bar over the inputs (on stderr).
        report: called with each failure as it happens.
    """
    from tqdm import tqdm

    if batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {batch_size}")
    if fps < 1:
        raise UserError(f"--fps must be at least 1, got {fps}")
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    inputs, missing = find_inputs(paths, frames_folders)
    result = TranslateResult()
    bar = tqdm(
        total=len(inputs),
        unit="file",
        desc="translate",
        disable=not progress,
        dynamic_ncols=True,
        file=sys.stderr,
    )

    def failed(failure: Failure) -> None:
        result.failed.append(failure)
        if report is not None:
            report(failure)

    for failure in missing:
        failed(failure)
    try:
        if inputs:
            work = _Work(model, output, batch_size, fps, all_clips)
            stills = [i for i in inputs if i.kind == "image"]
            for start in range(0, len(stills), batch_size):
                group = stills[start : start + batch_size]
                work.stills(group, result, failed)
                bar.update(len(group))
            for item in (i for i in inputs if i.kind != "image"):
                work.video(item, result, failed)
                bar.update(1)
    finally:
        bar.close()
    return result
