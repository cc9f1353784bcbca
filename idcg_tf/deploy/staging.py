"""An export as one unit: staged under `<name>/.staging`, committed by renames that a commit
record makes repeatable, under a `flock` (see `idcg_tf.deploy.export` for the protocol)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from idcg_tf.deploy.layout import DIRECTIONS, EXPORT_JSON, MODEL_CARD, PENDING, STAGING, temporary
from idcg_tf.errors import UserError
from idcg_tf.fileio import write_atomically


def lock(model_dir: Path) -> int:
    """An exclusive `flock` on the `model_dir` folder itself for one export; `os.close` of the
    returned descriptor, or the death of the process, releases it."""
    import fcntl

    fd = os.open(model_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise UserError(
            f"{model_dir}: another export of this name is running; wait for it to finish"
        ) from None
    return fd


def fresh_staging(model_dir: Path) -> Path:
    """An empty staging folder (what a stopped export left there is gone)."""
    staging = model_dir / STAGING
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    return staging


def commit(model_dir: Path, version: int, log) -> None:
    """Writes the commit record for the staged `version`, then moves it into place."""
    write_atomically(
        model_dir / PENDING, json.dumps({"version": version}) + "\n", temporary(model_dir / PENDING)
    )
    log(f"committing version {version}")
    _complete(model_dir, log)


def _complete(model_dir: Path, log) -> dict | None:
    """Moves a staged export into place as the pending record says; returns its export.json
    record, or None when nothing is pending. Every step can be repeated after a kill."""
    pending = model_dir / PENDING
    if not pending.is_file():
        return None
    version = json.loads(pending.read_text())["version"]
    staging = model_dir / STAGING
    for d in DIRECTIONS:
        staged, final = staging / d.generator, model_dir / d.generator / str(version)
        if staged.is_dir() and not final.exists():
            final.parent.mkdir(parents=True, exist_ok=True)
            staged.rename(final)
    record = json.loads(
        (staging / EXPORT_JSON).read_text()
        if (staging / EXPORT_JSON).is_file()
        else (model_dir / EXPORT_JSON).read_text()
    )
    for d in DIRECTIONS:
        info = record["generators"][d.generator]
        # The single-file formats: ONNX and the LiteRT variants (an older version's file of a
        # format this export lacks would pass for this one's, so it goes).
        for key, name in _single_files(d.generator):
            if (staging / name).is_file():
                os.replace(staging / name, model_dir / name)
            elif name not in _named(info.get(key)) and (model_dir / name).exists():
                (model_dir / name).unlink()
                log(f"{d.generator}: removed {name} of an older version (not in this export)")
    # export.json last: once it names the version, everything it lists is in place.
    for name in (MODEL_CARD, EXPORT_JSON):
        if (staging / name).is_file():
            os.replace(staging / name, model_dir / name)
    pending.unlink()
    shutil.rmtree(staging, ignore_errors=True)
    return record


def _single_files(generator: str) -> list[tuple[str, str]]:
    from idcg_tf.deploy.litert import VARIANTS, file_name

    return [("onnx", f"{generator}.onnx")] + [
        ("litert", file_name(generator, variant)) for variant in VARIANTS
    ]


def _named(value) -> set:
    """The file names an export.json entry names (a name, or {variant: name})."""
    if isinstance(value, dict):
        return set(value.values())
    return {value} if value else set()


def recover(model_dir: Path, log) -> dict | None:
    """Completes an export that was killed after its commit point, or removes what one killed
    before it staged; returns the completed export's record, if any."""
    record = _complete(model_dir, log)
    if record is not None:
        log(f"completed the interrupted export of version {record['version']}")
        return record
    leftovers = [p for p in model_dir.glob(".tmp-*")] + [model_dir / STAGING]
    leftovers += [p for d in DIRECTIONS for p in (model_dir / d.generator).glob(".tmp-*")]
    for path in leftovers:
        if path.is_dir():
            shutil.rmtree(path)
            log(f"removed {path}, left by an export that was stopped before it finished")
        elif path.exists():
            path.unlink()
    return None
