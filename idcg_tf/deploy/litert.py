"""LiteRT (TFLite) models of the generators, for phones and small devices: converted from the
exported SavedModels (`tf.lite.TFLiteConverter`, built-in ops only) in three variants, run with
the `ai-edge-litert` interpreter (what replaces the deprecated `tf.lite.Interpreter`)."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import numpy as np

from idcg_tf.errors import UserError

# variant -> file suffix: float32; float16 weights; dynamic-range int8 weights (activations
# stay float, computed in float32 at run time).
VARIANTS = {"float32": "", "float16": ".fp16", "int8": ".int8"}

# Layer class -> the convolution form (`impl`) the LiteRT files are traced with. LiteRT's CPU
# kernels (XNNPACK) run 2D convolutions fast and 3D and transposed convolutions slowly: the
# video encoder's Conv3D layers run as 2D convolutions over temporal taps, the video decoder's
# transposed Conv3D layers as one 2D transposed convolution per temporal phase; inside
# `litert_trace()` every 2D transposed convolution (those phases' and the image decoder's) is
# traced as one 2D convolution and a depth-to-space, and time-strided taps without strided
# slices. Same weights, same values up to float rounding; the timings of each form are in
# docs/performance.md (Inference).
LITERT_FORMS = {
    "VideoConv": "custom",
    "VideoConvTranspose": "custom",
}

# variant -> whether its trace runs the 3D convolutions as one 2D convolution per temporal tap
# (`litert_trace(tap_sum=True)`): faster in float; in int8 the taps stacked into one
# convolution are faster (each convolution quantises its input once more at run time).
TAP_SUM = {"float32": True, "float16": True, "int8": False}


def convert(saved_model: Path, variant: str) -> bytes:
    """The `serving_default` signature of a SavedModel as a LiteRT flatbuffer."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(
        str(saved_model), signature_keys=["serving_default"]
    )
    if variant != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if variant == "float16":
            converter.target_spec.supported_types = [tf.float16]
    return converter.convert()


@contextlib.contextmanager
def litert_forms(model, variant: str):
    """Inside: `model`'s convolution layers set to LITERT_FORMS and `litert_trace` on as
    `variant`'s file is traced; after: the layers as they were."""
    from idcg_tf.deploy.generator_module import convolution_forms
    from idcg_tf.ops.litert_trace import litert_trace

    with convolution_forms(model, LITERT_FORMS), litert_trace(TAP_SUM[variant]):
        yield


def convert_module(module, workdir: Path, variants=tuple(VARIANTS)) -> dict[str, bytes]:
    """`variants` (default: every one) of a `GeneratorModule`'s generator, {variant:
    flatbuffer}: its graph traced again with LITERT_FORMS (once per TAP_SUM value the variants
    need) into a SavedModel under `workdir` (removed after), converted."""
    from idcg_tf.deploy.generator_module import write_saved_model

    traced_alike: dict[bool, list[str]] = {}  # TAP_SUM value -> its variants, one trace each
    for variant in variants:
        traced_alike.setdefault(TAP_SUM[variant], []).append(variant)
    flatbuffers = {}
    for group in traced_alike.values():
        path = Path(workdir) / f".{module.name}.litert-source"
        with litert_forms(module.model, group[0]):
            write_saved_model(module.retraced(), path)
        try:
            flatbuffers.update({variant: convert(path, variant) for variant in group})
        finally:
            shutil.rmtree(path, ignore_errors=True)
    return {variant: flatbuffers[variant] for variant in variants}


def file_name(generator: str, variant: str) -> str:
    return f"{generator}{VARIANTS[variant]}.tflite"


def default_threads() -> int:
    """The CPUs this process may run on: the interpreter's default is one thread, while
    TensorFlow, ONNX Runtime and PyTorch use every core."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # no affinity API (macOS, Windows)
        return os.cpu_count() or 1


class LiteRTRunner:
    """One generator on the LiteRT interpreter: float32 in, float32 out, any batch size (the
    input is resized when the batch changes), on `num_threads` threads (default: every CPU
    this process may use)."""

    def __init__(self, path: Path, num_threads: int | None = None):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise UserError(
                "--backend litert needs ai-edge-litert: pip install -e '.[deploy]'"
            ) from None
        if not Path(path).is_file():
            raise UserError(f"{path}: no such LiteRT file (export with --litert)")
        self.interpreter = Interpreter(
            model_path=str(path), num_threads=num_threads or default_threads()
        )
        self.input = self.interpreter.get_input_details()[0]["index"]
        self.output = self.interpreter.get_output_details()[0]["index"]
        self.shape = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, np.float32)
        if self.shape != x.shape:
            self.interpreter.resize_tensor_input(self.input, list(x.shape))
            self.interpreter.allocate_tensors()
            self.shape = x.shape
        self.interpreter.set_tensor(self.input, x)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output).copy()
