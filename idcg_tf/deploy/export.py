"""Exporting a trained run: SavedModels in the TF Serving layout, ONNX files, export.json.

`export_run(workdir, name, output)` writes

    <output>/<name>/image_to_video/<version>/   SavedModel: saved_model.pb, variables/
    <output>/<name>/video_to_image/<version>/   SavedModel
    <output>/<name>/image_to_video.onnx         the same inference graphs for ONNX Runtime
    <output>/<name>/video_to_image.onnx
    <output>/<name>/export.json                 source run, step, config, shapes, checksums
    <output>/<name>/MODEL_CARD.md               what the model is, its data and licences,
                                                intended and out-of-scope uses, metrics

`<output>/<name>/<generator>` is a TF Serving model base path: the server loads the highest
integer folder in it and ignores other names. Each export adds the next version for both
generators (the same number); the ONNX files and export.json always describe the newest one.

An export is one unit, written in two phases so that a kill at any moment leaves both
generators at a version or neither:

1. stage: everything (both SavedModels, both ONNX files, the card, export.json) is written under
   `<output>/<name>/.staging/`, a dot-named folder no server looks into; a kill here leaves
   nothing visible, and the next export removes the leftovers and reuses the number;
2. commit: `.pending.json` (the commit record) is written atomically, then each staged file is
   renamed into place, export.json last, and the record removed. A kill between two renames
   (a few microseconds, no disk writes) leaves the record, and the next export of the name
   first completes the renames ("completed the interrupted export of version N").

An exclusive `flock` on the `<output>/<name>` folder keeps two exports of one name apart; the
kernel drops it when its process dies, so it cannot go stale.

Each SavedModel holds only the generator's inference graph (`training=False`: BatchNorm uses
its moving statistics and updates nothing) behind two signatures, both with a dynamic batch:

    serving_default   float32 in [-1, 1]   image (N, r, r, 3) -> video (N, l, r, r, 3), or
                                            video -> image for video_to_image
    serve_uint8       uint8 RGB pixels      same names; scaling is done inside the graph, and
                                            responses are 4x smaller (REST, gRPC)

The graph is a `tf.Module` that tracks the Keras model's variables rather than `model.export` /
`keras.export.ExportArchive`: those stored every variable twice (measured: 190 MB instead of
95 MB for a paper-size generator). It restores through TF Serving's loader path (the
SavedModel's saver restore op, as `saved_model_cli run` and TF1 sessions use it); see
`idcg_tf.deploy.generator_module.GeneratorModule`. The commit is `idcg_tf.deploy.staging`, the
folder layout `idcg_tf.deploy.layout`, the card `idcg_tf.deploy.model_card`.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from pathlib import Path

from idcg_tf.config import Config
from idcg_tf.deploy import staging as staging_lib
from idcg_tf.deploy.generator_module import (
    DEFAULT_OPSET,
    generator_modules,
    onnx_model,
    signature_info,
    tensor_shapes,
)
from idcg_tf.deploy.layout import DIRECTIONS, EXPORT_JSON, MODEL_CARD, VALUE_RANGES, next_version
from idcg_tf.deploy.model_card import model_card
from idcg_tf.deploy.warmup import write_warmup
from idcg_tf.errors import UserError
from idcg_tf.prepare import crop
from idcg_tf.versions import package_versions

MAX_OPSET = 18  # tf2onnx 1.17 refuses 19 and above
MIN_OPSET = 13  # tf2onnx's converters for Conv3DTranspose and friends need at least this


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def training_manifest(cfg: Config) -> tuple[dict | None, str | None]:
    """The data manifest.json next to the run's training shards, and its path, if any."""
    import tensorflow as tf

    for pattern in (cfg.task.data.train_images, cfg.task.data.train_clips):
        if not pattern:
            continue
        path = os.path.join(os.path.dirname(pattern), "manifest.json")
        if tf.io.gfile.exists(path):
            with tf.io.gfile.GFile(path) as f:
                return json.load(f), path
    return None, None


def face_crop_settings(cfg: Config) -> dict:
    """How faces were cropped for training: the data manifest's options when it sits next to
    the training shards, else prepare_data's defaults for the model's resolution."""
    manifest, path = training_manifest(cfg)
    options = (manifest or {}).get("options", {})
    if all(k in options for k in crop.KEYS):
        return {**{k: options[k] for k in crop.KEYS}, "source": path}
    return {**crop.crop_settings(cfg.task.model.resolution), "source": "prepare_data defaults"}


def _check_request(name: str, onnx: bool, opset: int) -> None:
    if not name or name in (".", "..") or "/" in name or "\\" in name or name.startswith("."):
        raise UserError(f"--name {name!r}: expected a plain folder name such as 'celeb_model1'")
    if not onnx:
        return
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise UserError(
            f"--opset {opset}: tf2onnx supports opsets {MIN_OPSET} to {MAX_OPSET} "
            f"(default {DEFAULT_OPSET})"
        )
    try:
        import onnx  # noqa: F401
        import tf2onnx  # noqa: F401
    except ImportError as error:
        raise UserError(
            f"ONNX export needs tf2onnx and onnx ({error}): pip install -e "
            "'.[deploy]', or pass --no-onnx"
        ) from None


def export_run(
    workdir: str | os.PathLike,
    name: str,
    output: str | os.PathLike = "exported_models",
    step: int | None = None,
    onnx: bool = True,
    opset: int = DEFAULT_OPSET,
    log=None,
    litert: bool = False,
) -> dict:
    """Exports both generators of a training run; returns what export.json records.

    Args:
        workdir: the training run directory (config.yaml, checkpoints/).
        name: model name, the folder under `output`.
        output: where exported models live.
        step: the checkpoint to export; the latest when None.
        onnx: also write `<generator>.onnx` (needs the `deploy` extra).
        opset: ONNX opset.
        log: called with one progress line per file written.
        litert: also write `<generator>[.fp16|.int8].tflite` (LiteRT float32, float16 and
            dynamic-range int8 variants).
    """
    from idcg_tf.translation.task import TranslationTask

    log = log or (lambda line: None)
    _check_request(name, onnx, opset)
    task, step = TranslationTask.from_run(workdir, step)
    cfg, nets = task.cfg, task.nets
    model_dir = Path(output) / name
    model_dir.mkdir(parents=True, exist_ok=True)
    lock = staging_lib.lock(model_dir)
    try:
        recovered = staging_lib.recover(model_dir, log)
        source = str(Path(workdir).resolve())
        if (
            recovered
            and recovered["source"]
            == {"workdir": source, "step": step, "variant": cfg.task.variant}
            and recovered["onnx_opset"] == (opset if onnx else None)
        ):
            return recovered  # the rerun of a killed export: it is complete now
        version = next_version(model_dir)
        record = _stage(cfg, nets, step, source, model_dir, name, version, onnx, opset, log, litert)
        staging_lib.commit(model_dir, version, log)
    finally:
        os.close(lock)
    return record


def _stage_litert(module, staging: Path, generator: str, files: dict, log) -> dict:
    """The LiteRT variants of one generator's module: {variant: file name}."""
    from idcg_tf.deploy import litert as litert_lib

    names = {}
    for variant, flatbuffer in litert_lib.convert_module(module, staging).items():
        path = staging / litert_lib.file_name(generator, variant)
        path.write_bytes(flatbuffer)
        files[path.name] = sha256(path)
        names[variant] = path.name
        log(f"{generator}: LiteRT {variant} staged ({path.stat().st_size / 2**20:.1f} MiB)")
    return names


def _stage(
    cfg, nets, step, source, model_dir, name, version, onnx, opset, log, litert=False
) -> dict:
    """Writes the whole export under `model_dir/.staging` with the names it will have."""
    import tensorflow as tf

    staging = staging_lib.fresh_staging(model_dir)
    modules = generator_modules(cfg, nets)
    shapes = tensor_shapes(cfg)
    files: dict[str, str] = {}
    generators = {}
    for d in DIRECTIONS:
        module = modules[d.generator]
        path = staging / d.generator
        tf.saved_model.save(module, str(path), signatures=module.signatures)
        write_warmup(path, d, shapes[d.input])  # TF Serving replays it when it loads the version
        log(f"{d.generator}: SavedModel staged for version {version}")
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            final = Path(d.generator) / str(version) / f.relative_to(path)
            files[final.as_posix()] = sha256(f)
        info = {
            "saved_model": f"{d.generator}/{version}",
            "input": d.input,
            "output": d.output,
            "signatures": signature_info(d, shapes),
            "parameters": int(getattr(nets, d.generator).count_params()),
        }
        if onnx:
            onnx_path = staging / f"{d.generator}.onnx"
            import onnx as onnx_lib

            onnx_lib.save(onnx_model(module, opset), str(onnx_path))
            log(f"{d.generator}: ONNX opset {opset} staged")
            files[onnx_path.name] = sha256(onnx_path)
            info["onnx"] = onnx_path.name
        if litert:
            info["litert"] = _stage_litert(module, staging, d.generator, files, log)
        generators[d.generator] = info
    m = cfg.task.model
    record = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "name": name,
        "version": version,
        "source": {"workdir": source, "step": step, "variant": cfg.task.variant},
        "resolution": m.resolution,
        "frames": m.frames,
        "channels": m.channels,
        "shapes": {k: [-1, *v] for k, v in shapes.items()},
        "value_ranges": VALUE_RANGES,
        "generators": generators,
        "onnx_opset": opset if onnx else None,
        "face_crop": face_crop_settings(cfg),
        "config": json.loads(json.dumps(cfg.to_dict())),
        "versions": package_versions(
            ("tensorflow", "keras", "numpy", "tf2onnx", "onnx", "onnxruntime")
        ),
        "sha256": files,
    }
    card = staging / MODEL_CARD
    card.write_text(model_card(cfg, source, step, record, training_manifest(cfg)[0]))
    log(f"{MODEL_CARD} staged")
    files[MODEL_CARD] = sha256(card)
    (staging / EXPORT_JSON).write_text(json.dumps(record, indent=2) + "\n")
    return record
