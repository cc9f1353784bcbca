"""One generator's inference graph for serving: the `GeneratorModule` with its signatures, and
writing it as a SavedModel or an ONNX model."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import tensorflow as tf

from idcg_tf.config import Config
from idcg_tf.deploy.layout import DIRECTIONS, SIGNATURES, VALUE_RANGES, Direction, temporary

DEFAULT_OPSET = 17

# Layer class -> the convolution form (`impl`) the ONNX models are traced with. ONNX Runtime's
# CPU kernels run the video encoder's 3D convolutions faster as 2D convolutions over temporal
# taps (its 2D kernels use blocked layouts, its 3D ones im2col and a matmul). Same weights, same
# values up to float rounding; timings in docs/performance.md (Inference). The SavedModel keeps
# the forms the autotuner picked for TensorFlow's kernels.
ONNX_FORMS = {"VideoConv": "custom"}


def tensor_shapes(cfg: Config) -> dict[str, list[int]]:
    """Per-sample shapes of the two kinds of tensor the generators exchange."""
    m = cfg.task.model
    image = [m.resolution, m.resolution, m.channels]
    return {"image": image, "video": [m.frames, *image]}


def signature_info(d: Direction, shapes: dict) -> dict:
    """What export.json says of each signature of `d`'s generator: dtypes, shapes, ranges."""

    def spec(kind: str, dtype: str) -> dict:
        return {kind: {"dtype": dtype, "shape": [-1, *shapes[kind]], "range": VALUE_RANGES[dtype]}}

    return {
        name: {"inputs": spec(d.input, dtype), "outputs": spec(d.output, dtype)}
        for name, dtype in zip(SIGNATURES, ("float32", "uint8"))
    }


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
            self._serve, input_signature=[tf.TensorSpec(shape, tf.float32, name=input_name)]
        )
        self.serve_uint8 = tf.function(
            self._serve_uint8, input_signature=[tf.TensorSpec(shape, tf.uint8, name=input_name)]
        )

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
        return dict(zip(SIGNATURES, (self.serve, self.serve_uint8)))

    def retraced(self) -> GeneratorModule:
        """A new module of the same generator, whose signatures trace afresh (inside a
        `convolution_forms` block, with those forms)."""
        shape = self.serve.input_signature[0].shape[1:]
        return GeneratorModule(self.model, self.input_name, self.output_name, shape, name=self.name)


def generator_modules(cfg: Config, nets) -> dict[str, GeneratorModule]:
    """A `GeneratorModule` for each generator of `nets`, keyed by generator name."""
    shapes = tensor_shapes(cfg)
    return {
        d.generator: GeneratorModule(
            getattr(nets, d.generator), d.input, d.output, shapes[d.input], name=d.generator
        )
        for d in DIRECTIONS
    }


@contextlib.contextmanager
def convolution_forms(model, forms: dict):
    """Inside: `model`'s layers whose class `forms` names set to that convolution form
    (`impl`); after: as they were. What a graph traced inside runs; the variables are shared.
    Yields whether any layer's form changed (if not, an existing trace still holds)."""
    changed = []
    try:
        for layer in model._flatten_layers(include_self=False, recursive=True):
            impl = forms.get(type(layer).__name__)
            if impl is not None and impl != layer.impl:
                changed.append((layer, layer.impl))
                layer.impl = impl
        yield bool(changed)
    finally:
        for layer, impl in changed:
            layer.impl = impl


def write_saved_model(module: GeneratorModule, path: Path) -> None:
    """Saves `module` with its signatures at `path` (which must not exist), atomically."""
    tmp = temporary(path)
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tf.saved_model.save(module, str(tmp), signatures=module.signatures)
        tmp.rename(path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def onnx_model(module: GeneratorModule, opset: int = DEFAULT_OPSET):
    """The float32 signature of `module` as an ONNX ModelProto, batch dimension named 'batch',
    traced with ONNX_FORMS."""
    import tf2onnx

    with convolution_forms(module.model, ONNX_FORMS) as changed:
        serve = module.retraced().serve if changed else module.serve
        proto, _ = tf2onnx.convert.from_function(
            serve, input_signature=serve.input_signature, opset=opset
        )
    for value in (*proto.graph.input, *proto.graph.output):
        # tf2onnx names the dynamic dimension "unk__<n>"; a stable name documents it.
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    return proto
