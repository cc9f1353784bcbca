"""Running an exported model (a folder written by tools/export.py) on ONNX Runtime, TensorFlow
or LiteRT: ONNX when the export has both .onnx files and onnxruntime is installed, else the
SavedModels of the version export.json names; LiteRT when asked for (export --litert)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from idcg_tf.deploy.layout import DIRECTIONS, read_export
from idcg_tf.errors import UserError

# "litert" runs the float32 LiteRT files; "litert_fp16" / "litert_int8" the quantised ones.
LITERT_BACKENDS = {"litert": "float32", "litert_fp16": "float16", "litert_int8": "int8"}
BACKENDS = ("onnx", "tf", *LITERT_BACKENDS)


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        return None
    return onnxruntime


class ExportedModel:
    """Both generators of an exported model, on ONNX Runtime or TensorFlow.

    Args:
        model_dir: the export folder (holds export.json).
        backend: "onnx", "tf", or None for ONNX when the export has .onnx files.

    Example:
        >>> model = ExportedModel("exported_models/celeb_model1")
        >>> model.image_to_video(np.zeros([2, 64, 64, 3], np.float32)).shape
        (2, 32, 64, 64, 3)
    """

    def __init__(self, model_dir: str | os.PathLike, backend: str | None = None):
        self.model_dir = Path(model_dir)
        self.meta = read_export(self.model_dir)
        try:
            self.resolution = int(self.meta["resolution"])
            self.frames = int(self.meta["frames"])
            self.channels = int(self.meta.get("channels", 3))
            generators = {d.generator: self.meta["generators"][d.generator] for d in DIRECTIONS}
        except (KeyError, TypeError, ValueError) as error:
            raise UserError(f"{self.model_dir}/export.json: missing or bad field {error}") from None
        onnx_files = {
            g: self.model_dir / info["onnx"] for g, info in generators.items() if info.get("onnx")
        }
        if backend is None:
            have_onnx = len(onnx_files) == len(generators) and all(
                p.is_file() for p in onnx_files.values()
            )
            backend = "onnx" if have_onnx and _onnxruntime() is not None else "tf"
        if backend not in BACKENDS:
            raise UserError(f"--backend {backend!r}: expected one of {', '.join(BACKENDS)}")
        self.backend = backend
        self._run: dict[str, Callable[[np.ndarray], np.ndarray]] = {}
        for d in DIRECTIONS:
            info = generators[d.generator]
            if backend in LITERT_BACKENDS:
                self._run[d.generator] = self._litert_runner(info, d, LITERT_BACKENDS[backend])
            elif backend == "onnx":
                if d.generator not in onnx_files:
                    raise UserError(
                        f"{self.model_dir}: exported without ONNX files "
                        "(--no-onnx); use --backend tf"
                    )
                self._run[d.generator] = self._onnx_runner(onnx_files[d.generator], d)
            else:
                self._run[d.generator] = self._tf_runner(self.model_dir / info["saved_model"], d)

    def _litert_runner(self, info: dict, d, variant: str) -> Callable:
        from idcg_tf.deploy.litert import LiteRTRunner

        name = (info.get("litert") or {}).get(variant)
        if not name:
            raise UserError(
                f"{self.model_dir}: exported without LiteRT files (export with --litert)"
            )
        return LiteRTRunner(self.model_dir / name)

    def _onnx_runner(self, path: Path, d) -> Callable:
        ort = _onnxruntime()
        if ort is None:
            raise UserError("--backend onnx needs onnxruntime: pip install -e '.[deploy]'")
        if not path.is_file():
            raise UserError(
                f"{path}: no such ONNX file (export without --no-onnx, or use --backend tf)"
            )
        session = ort.InferenceSession(str(path), providers=ort.get_available_providers())
        return lambda x: session.run([d.output], {d.input: x})[0]

    def _tf_runner(self, path: Path, d) -> Callable:
        import tensorflow as tf

        if not (path / "saved_model.pb").is_file():
            raise UserError(f"{path}: no SavedModel (the version export.json names is gone?)")
        loaded = tf.saved_model.load(str(path), tags=["serve"])
        signature = loaded.signatures["serving_default"]

        def run(x):
            return signature(**{d.input: tf.constant(x)})[d.output].numpy()

        # A signature only holds weak references to the variables of the object it came from.
        run.loaded = loaded
        return run

    def _batched(self, generator: str, x: np.ndarray, batch_size: int) -> np.ndarray:
        x = np.asarray(x, np.float32)
        parts = [self._run[generator](x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0,), np.float32)

    def image_to_video(self, images: np.ndarray, batch_size: int = 8) -> np.ndarray:
        """(N, r, r, c) float32 in [-1, 1] -> (N, l, r, r, c)."""
        return self._batched("image_to_video", images, batch_size)

    def video_to_image(self, clips: np.ndarray, batch_size: int = 8) -> np.ndarray:
        """(N, l, r, r, c) float32 in [-1, 1] -> (N, r, r, c)."""
        return self._batched("video_to_image", clips, batch_size)
