"""What `idcg-app` does with an upload, without the web page: the photo or video goes through
`Translator` (the face detection, crop, model and files of `idcg-translate`) with FaceNet
measuring the distance between input and translation; an upload that cannot be translated
becomes one line saying why. `idcg_tf.deploy.web_app` puts it on a page.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from pathlib import Path

import numpy as np

from idcg_tf.deploy.exported_model import ExportedModel
from idcg_tf.deploy.media_inputs import MediaInput, find_inputs
from idcg_tf.deploy.translate import Translator
from idcg_tf.identity.scoring import DEFAULT_THRESHOLD, Embed
from idcg_tf.prepare.sources import SkipInput

KINDS = {"image": "a photo", "video": "a video"}


@dataclasses.dataclass(frozen=True)
class AppResult:
    """One upload's result; `error` is set (one line) and the rest empty when it failed."""

    error: str | None = None
    faces: np.ndarray | None = None  # uint8: the crop of a photo, the face frames of a clip
    output: np.ndarray | None = None  # uint8: the clip (l, r, r, 3) or the photo (r, r, 3)
    files: dict[str, str] = dataclasses.field(default_factory=dict)  # "gif", "mp4", "strip", ...
    distance: float | None = None
    threshold: float = DEFAULT_THRESHOLD

    @property
    def same_person(self) -> bool | None:
        return None if self.distance is None else self.distance <= self.threshold

    def verdict(self) -> str:
        """The result in one line: the FaceNet distance and what it says, or the error."""
        if self.error is not None:
            return f"error: {self.error}"
        verdict = "same person" if self.same_person else "not the same person"
        return (
            f"FaceNet distance between input and translation: {self.distance:.4f}, "
            f"{verdict} by FaceNet (threshold {self.threshold:g})"
        )


class AppBackend:
    """Translates uploads with one exported model; results go to per-upload folders under
    `output` (the web app's temporary folder).

    Args:
        model: the exported model.
        embed: the FaceNet embedder (`idcg_tf.identity.scoring.compiled_embedder`).
        output: where the files of each upload are written.
        fps: frame rate of the clip's GIF and MP4.
        threshold: FaceNet's same-person threshold (L2 distance).
    """

    def __init__(
        self,
        model: ExportedModel,
        embed: Embed,
        output: str | os.PathLike,
        fps: int = 8,
        threshold: float = DEFAULT_THRESHOLD,
    ):
        self.model = model
        self.threshold = threshold
        self.translator = Translator(model, output, batch_size=1, fps=fps, embed=embed)

    def _input(self, path: str | None, kind: str) -> MediaInput:
        if not path:
            raise SkipInput("no file", f"drop {KINDS[kind]} first")
        (found, missing) = find_inputs([path])
        if missing:
            raise SkipInput(missing[0].reason, missing[0].detail)
        item = found[0]
        if item.kind != kind:
            other = "the photo to clip tab" if item.kind == "image" else "the video to photo tab"
            raise SkipInput("wrong tab", f"this is {KINDS[item.kind]}; drop it on {other}")
        # Each upload in a folder of its own: two visitors' files never overwrite each other.
        return dataclasses.replace(item, stem=f"{uuid.uuid4().hex[:12]}/{Path(path).stem}")

    def _failed(self, path: str | None, skip: SkipInput) -> AppResult:
        name = Path(path).name if path else "upload"
        return AppResult(error=f"{name}: {skip.reason}: {skip.detail}", threshold=self.threshold)

    def photo_to_clip(self, path: str | None) -> AppResult:
        """A photo -> its clip: the crop, the clip, its GIF, MP4 and strip, the distance."""
        try:
            done = self.translator.still(self._input(path, "image"))
        except SkipInput as skip:
            return self._failed(path, skip)
        mp4, gif, strip = done.files
        return AppResult(
            faces=done.faces,
            output=done.output,
            files={"gif": gif, "mp4": mp4, "strip": strip},
            distance=done.distances[0],
            threshold=self.threshold,
        )

    def video_to_photo(self, path: str | None) -> AppResult:
        """A video -> the photo of its first face clip: the clip's face frames, the photo, the
        sheet (frames | photo), the distance."""
        try:
            done = self.translator.video(self._input(path, "video"))
        except SkipInput as skip:
            return self._failed(path, skip)
        image, sheet = done.files
        return AppResult(
            faces=done.faces[0],
            output=done.output[0],
            files={"image": image, "sheet": sheet},
            distance=done.distances[0],
            threshold=self.threshold,
        )
