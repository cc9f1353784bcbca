"""What an export folder holds and how to find it: file names, the two generators, the
version folders, and export.json (see `idcg_tf.deploy.export` for how one is written)."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from idcg_tf.errors import UserError

EXPORT_JSON = "export.json"
MODEL_CARD = "MODEL_CARD.md"
STAGING = ".staging"  # where an export is written before its commit
PENDING = ".pending.json"  # the commit record
SIGNATURES = ("serving_default", "serve_uint8")  # float32 in [-1, 1], uint8 RGB pixels
VALUE_RANGES = {"float32": [-1.0, 1.0], "uint8": [0, 255]}


@dataclasses.dataclass(frozen=True)
class Direction:
    """One generator: the `Networks` attribute that holds it, its input and output names."""

    generator: str
    input: str
    output: str


DIRECTIONS = (
    Direction("image_to_video", "image", "video"),
    Direction("video_to_image", "video", "image"),
)


def existing_versions(base: Path) -> list[int]:
    """The integer version folders of a TF Serving model base path, ascending."""
    if not base.is_dir():
        return []
    return sorted(int(p.name) for p in base.iterdir() if p.is_dir() and p.name.isdigit())


def next_version(model_dir: Path) -> int:
    """One above the highest version of any generator, so both get the same number."""
    found = [v for d in DIRECTIONS for v in existing_versions(model_dir / d.generator)]
    return max(found, default=0) + 1


def temporary(path: Path) -> Path:
    # Dot-named: TF Serving skips names that are not integers, `ls` does not show it.
    return path.with_name(f".tmp-{path.name}-{os.getpid()}")


def read_export(model_dir: str | os.PathLike) -> dict:
    """The export.json of an exported model folder; a missing or broken one is a UserError."""
    path = Path(model_dir) / EXPORT_JSON
    if not path.is_file():
        raise UserError(
            f"{model_dir}: no {EXPORT_JSON} (expected a folder written by "
            "tools/export.py, e.g. exported_models/NAME)"
        )
    try:
        return json.loads(path.read_text())
    except ValueError as error:
        raise UserError(f"{path}: not valid JSON ({error})") from None
