"""LiteRT (TFLite) models of the generators, for phones and small devices: converted from the
exported SavedModels (`tf.lite.TFLiteConverter`, built-in ops only) in three variants, run with
the `ai-edge-litert` interpreter (what replaces the deprecated `tf.lite.Interpreter`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from idcg_tf.errors import UserError

# variant -> file suffix: float32; float16 weights; dynamic-range int8 weights (activations
# stay float, computed in float32 at run time).
VARIANTS = {"float32": "", "float16": ".fp16", "int8": ".int8"}


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


def file_name(generator: str, variant: str) -> str:
    return f"{generator}{VARIANTS[variant]}.tflite"


class LiteRTRunner:
    """One generator on the LiteRT interpreter: float32 in, float32 out, any batch size (the
    input is resized when the batch changes)."""

    def __init__(self, path: Path):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise UserError(
                "--backend litert needs ai-edge-litert: pip install -e '.[deploy]'"
            ) from None
        if not Path(path).is_file():
            raise UserError(f"{path}: no such LiteRT file (export with --litert)")
        self.interpreter = Interpreter(model_path=str(path))
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
