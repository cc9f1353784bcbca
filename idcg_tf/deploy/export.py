"""Exporting a trained run: SavedModels in the TF Serving layout, ONNX files, export.json.

`export_run(workdir, name, output)` writes

    <output>/<name>/image_to_video/<version>/   SavedModel: saved_model.pb, variables/
    <output>/<name>/video_to_image/<version>/   SavedModel
    <output>/<name>/image_to_video.onnx         the same inference graphs for ONNX Runtime
    <output>/<name>/video_to_image.onnx
    <output>/<name>/export.json                 source run, step, config, shapes, checksums

`<output>/<name>/<generator>` is a TF Serving model base path: the server loads the highest
integer folder in it and ignores other names. Each export adds the next version for both
generators (the same number); the ONNX files and export.json always describe the newest one.

An export is one unit, written in two phases so that a kill at any moment leaves both
generators at a version or neither:

1. stage: everything (both SavedModels, both ONNX files, export.json) is written under
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
`GeneratorModule`.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
import platform
import shutil
from pathlib import Path

import tensorflow as tf

from idcg_tf.config import Config
from idcg_tf.errors import UserError
from idcg_tf.fileio import write_atomically

EXPORT_JSON = "export.json"
SIGNATURES = ("serving_default", "serve_uint8")
DEFAULT_OPSET = 17
MAX_OPSET = 18  # tf2onnx 1.17 refuses 19 and above
MIN_OPSET = 13  # tf2onnx's converters for Conv3DTranspose and friends need at least this
VALUE_RANGES = {"float32": [-1.0, 1.0], "uint8": [0, 255]}


@dataclasses.dataclass(frozen=True)
class Direction:
    """One generator: the `Networks` attribute that holds it, its input and output names."""

    generator: str
    input: str
    output: str


DIRECTIONS = (Direction("image_to_video", "image", "video"),
              Direction("video_to_image", "video", "image"))


def tensor_shapes(cfg: Config) -> dict[str, list[int]]:
    """Per-sample shapes of the two kinds of tensor the generators exchange."""
    m = cfg.model
    image = [m.resolution, m.resolution, m.channels]
    return {"image": image, "video": [m.frames, *image]}


class _Untracked:
    """Holds the Keras model out of sight of `tf.Module`'s attribute tracking (see below)."""

    def __init__(self, model):
        self.model = model


class GeneratorModule(tf.Module):
    """One generator's inference graph with the `serving_default` and `serve_uint8` signatures.

    The module tracks the model's underlying `tf.Variable`s, not the Keras model: a tracked
    Keras 3 model makes `tf.saved_model.save` write a second set of variable handles
    (`Variable_N`) that the SavedModel's restore op fills while the signatures read the
    first set, so TF Serving's loader, `saved_model_cli run` and a TF1 session fail with
    "Could not find variable" (tests/test_export.py pins this). Tracking the variables
    themselves stores each once and makes the restore op fill the ones the graph reads.

    Args:
        model: the Keras generator, called with `training=False`.
        input_name: name of the signatures' input ("image" or "video").
        output_name: name of their output.
        input_shape: per-sample input shape; the batch dimension is left dynamic.
    """

    def __init__(self, model, input_name: str, output_name: str, input_shape, name=None):
        super().__init__(name=name)
        self._keras = _Untracked(model)
        # Keyed by the variable's path in the model, so the checkpoint keys stay readable.
        self.model_variables = {v.path.replace("/", "."): v.value for v in model.variables}
        self.input_name = input_name
        self.output_name = output_name
        shape = [None, *input_shape]
        # The TensorSpec name is what TF Serving calls the input (and tf2onnx the ONNX input).
        self.serve = tf.function(
            self._serve, input_signature=[tf.TensorSpec(shape, tf.float32, name=input_name)])
        self.serve_uint8 = tf.function(
            self._serve_uint8, input_signature=[tf.TensorSpec(shape, tf.uint8, name=input_name)])

    @property
    def model(self):
        return self._keras.model

    def _serve(self, x):
        return {self.output_name: self.model(x, training=False)}

    def _serve_uint8(self, pixels):
        x = tf.cast(pixels, tf.float32) / 127.5 - 1.0
        y = self.model(x, training=False)
        # The same rounding as idcg_tf.visualize.to_uint8, so both paths give the same pixels.
        y = tf.clip_by_value(tf.round((y + 1.0) * 127.5), 0.0, 255.0)
        return {self.output_name: tf.cast(y, tf.uint8)}

    @property
    def signatures(self) -> dict:
        return {"serving_default": self.serve, "serve_uint8": self.serve_uint8}


def generator_modules(cfg: Config, nets) -> dict[str, GeneratorModule]:
    """A `GeneratorModule` for each generator of `nets`, keyed by generator name."""
    shapes = tensor_shapes(cfg)
    return {d.generator: GeneratorModule(getattr(nets, d.generator), d.input, d.output,
                                         shapes[d.input], name=d.generator)
            for d in DIRECTIONS}


def existing_versions(base: Path) -> list[int]:
    """The integer version folders of a TF Serving model base path, ascending."""
    if not base.is_dir():
        return []
    return sorted(int(p.name) for p in base.iterdir() if p.is_dir() and p.name.isdigit())


def next_version(model_dir: Path) -> int:
    """One above the highest version of any generator, so both get the same number."""
    found = [v for d in DIRECTIONS for v in existing_versions(model_dir / d.generator)]
    return max(found, default=0) + 1


def _temporary(path: Path) -> Path:
    # Dot-named: TF Serving skips names that are not integers, `ls` does not show it.
    return path.with_name(f".tmp-{path.name}-{os.getpid()}")


def write_saved_model(module: GeneratorModule, path: Path) -> None:
    """Saves `module` with its signatures at `path` (which must not exist), atomically."""
    tmp = _temporary(path)
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tf.saved_model.save(module, str(tmp), signatures=module.signatures)
        tmp.rename(path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


STAGING = ".staging"
PENDING = ".pending.json"


def _lock(model_dir: Path) -> int:
    """An exclusive `flock` on the `model_dir` folder itself for one export; `os.close` of the
    returned descriptor, or the death of the process, releases it."""
    import fcntl

    fd = os.open(model_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise UserError(f"{model_dir}: another export of this name is running; wait for it "
                        "to finish") from None
    return fd


def _commit(model_dir: Path, log) -> dict | None:
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
    record = json.loads((staging / EXPORT_JSON).read_text()
                        if (staging / EXPORT_JSON).is_file()
                        else (model_dir / EXPORT_JSON).read_text())
    for d in DIRECTIONS:
        name = f"{d.generator}.onnx"
        if (staging / name).is_file():
            os.replace(staging / name, model_dir / name)
        elif "onnx" not in record["generators"][d.generator] and (model_dir / name).exists():
            # An ONNX file of an older version would pass for this one.
            (model_dir / name).unlink()
            log(f"{d.generator}: removed the ONNX file of an older version (--no-onnx)")
    if (staging / EXPORT_JSON).is_file():
        os.replace(staging / EXPORT_JSON, model_dir / EXPORT_JSON)
    pending.unlink()
    shutil.rmtree(staging, ignore_errors=True)
    return record


def _recover(model_dir: Path, log) -> dict | None:
    """Completes an export that was killed after its commit point, or removes what one killed
    before it staged; returns the completed export's record, if any."""
    record = _commit(model_dir, log)
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


def onnx_model(module: GeneratorModule, opset: int = DEFAULT_OPSET):
    """The float32 signature of `module` as an ONNX ModelProto, batch dimension named 'batch'."""
    import tf2onnx

    proto, _ = tf2onnx.convert.from_function(
        module.serve, input_signature=module.serve.input_signature, opset=opset)
    for value in (*proto.graph.input, *proto.graph.output):
        # tf2onnx names the dynamic dimension "unk__<n>"; a stable name documents it.
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    return proto


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    from importlib import metadata

    import idcg_tf

    found = {"python": platform.python_version(), "idcg_tf": idcg_tf.__version__}
    for package in ("tensorflow", "keras", "numpy", "tf2onnx", "onnx", "onnxruntime"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def face_crop_settings(cfg: Config) -> dict:
    """How faces were cropped for training: the data manifest's options when it sits next to
    the training shards, else prepare_data's defaults for the model's resolution."""
    from idcg_tf.data.prepare import PrepareOptions

    keys = ("margin", "min_confidence", "min_face", "smooth")
    for pattern in (cfg.data.train_images, cfg.data.train_clips):
        if not pattern:
            continue
        manifest = os.path.join(os.path.dirname(pattern), "manifest.json")
        if tf.io.gfile.exists(manifest):
            with tf.io.gfile.GFile(manifest) as f:
                options = json.load(f).get("options", {})
            if all(k in options for k in keys):
                return {**{k: options[k] for k in keys}, "source": manifest}
    defaults = PrepareOptions(output="-", images=("-",), resolution=cfg.model.resolution,
                              frames=cfg.model.frames).resolved()
    return {**{k: getattr(defaults, k) for k in keys}, "source": "prepare_data defaults"}


def _signature_info(d: Direction, shapes: dict) -> dict:
    def spec(kind: str, dtype: str) -> dict:
        return {kind: {"dtype": dtype, "shape": [-1, *shapes[kind]],
                       "range": VALUE_RANGES[dtype]}}

    return {"serving_default": {"inputs": spec(d.input, "float32"),
                                "outputs": spec(d.output, "float32")},
            "serve_uint8": {"inputs": spec(d.input, "uint8"), "outputs": spec(d.output, "uint8")}}


def _check_request(name: str, onnx: bool, opset: int) -> None:
    if not name or name in (".", "..") or "/" in name or "\\" in name or name.startswith("."):
        raise UserError(f"--name {name!r}: expected a plain folder name such as 'celeb_model1'")
    if not onnx:
        return
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise UserError(f"--opset {opset}: tf2onnx supports opsets {MIN_OPSET} to {MAX_OPSET} "
                        f"(default {DEFAULT_OPSET})")
    try:
        import onnx  # noqa: F401
        import tf2onnx  # noqa: F401
    except ImportError as error:
        raise UserError(f"ONNX export needs tf2onnx and onnx ({error}): pip install -e "
                        "'.[deploy]', or pass --no-onnx") from None


def export_run(workdir: str | os.PathLike, name: str, output: str | os.PathLike = "exported_models",
               step: int | None = None, onnx: bool = True, opset: int = DEFAULT_OPSET,
               log=None) -> dict:
    """Exports both generators of a training run; returns what export.json records.

    Args:
        workdir: the training run directory (config.yaml, checkpoints/).
        name: model name, the folder under `output`.
        output: where exported models live.
        step: the checkpoint to export; the latest when None.
        onnx: also write `<generator>.onnx` (needs the `deploy` extra).
        opset: ONNX opset.
        log: called with one progress line per file written.
    """
    from idcg_tf.runs import load_networks

    log = log or (lambda line: None)
    _check_request(name, onnx, opset)
    cfg, nets, step = load_networks(workdir, step)
    model_dir = Path(output) / name
    model_dir.mkdir(parents=True, exist_ok=True)
    lock = _lock(model_dir)
    try:
        recovered = _recover(model_dir, log)
        source = str(Path(workdir).resolve())
        if recovered and recovered["source"] == {"workdir": source, "step": step,
                                                 "variant": cfg.model.variant} \
                and recovered["onnx_opset"] == (opset if onnx else None):
            return recovered  # the rerun of a killed export: it is complete now
        version = next_version(model_dir)
        record = _stage(cfg, nets, step, source, model_dir, name, version, onnx, opset, log)
        write_atomically(model_dir / PENDING, json.dumps({"version": version}) + "\n",
                         _temporary(model_dir / PENDING))
        log(f"committing version {version}")
        _commit(model_dir, log)
    finally:
        os.close(lock)
    return record


def _stage(cfg, nets, step, source, model_dir, name, version, onnx, opset, log) -> dict:
    """Writes the whole export under `model_dir/.staging` with the names it will have."""
    staging = model_dir / STAGING
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    modules = generator_modules(cfg, nets)
    shapes = tensor_shapes(cfg)
    files: dict[str, str] = {}
    generators = {}
    for d in DIRECTIONS:
        module = modules[d.generator]
        path = staging / d.generator
        tf.saved_model.save(module, str(path), signatures=module.signatures)
        log(f"{d.generator}: SavedModel staged for version {version}")
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            final = Path(d.generator) / str(version) / f.relative_to(path)
            files[final.as_posix()] = sha256(f)
        info = {"saved_model": f"{d.generator}/{version}", "input": d.input,
                "output": d.output, "signatures": _signature_info(d, shapes),
                "parameters": int(getattr(nets, d.generator).count_params())}
        if onnx:
            onnx_path = staging / f"{d.generator}.onnx"
            import onnx as onnx_lib

            onnx_lib.save(onnx_model(module, opset), str(onnx_path))
            log(f"{d.generator}: ONNX opset {opset} staged")
            files[onnx_path.name] = sha256(onnx_path)
            info["onnx"] = onnx_path.name
        generators[d.generator] = info
    m = cfg.model
    record = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "name": name,
        "version": version,
        "source": {"workdir": source, "step": step, "variant": m.variant},
        "resolution": m.resolution,
        "frames": m.frames,
        "channels": m.channels,
        "shapes": {k: [-1, *v] for k, v in shapes.items()},
        "value_ranges": VALUE_RANGES,
        "generators": generators,
        "onnx_opset": opset if onnx else None,
        "face_crop": face_crop_settings(cfg),
        "config": json.loads(json.dumps(cfg.to_dict())),
        "versions": _versions(),
        "sha256": files,
    }
    (staging / EXPORT_JSON).write_text(json.dumps(record, indent=2) + "\n")
    return record


def read_export(model_dir: str | os.PathLike) -> dict:
    """The export.json of an exported model folder; a missing or broken one is a UserError."""
    path = Path(model_dir) / EXPORT_JSON
    if not path.is_file():
        raise UserError(f"{model_dir}: no {EXPORT_JSON} (expected a folder written by "
                        "tools/export.py, e.g. exported_models/NAME)")
    try:
        return json.loads(path.read_text())
    except ValueError as error:
        raise UserError(f"{path}: not valid JSON ({error})") from None
