"""TF Serving's REST predict API, both sides: request bodies from arrays, the response a server
gives for a request (computed the way the server computes it), and arrays back from a response.

TF Serving's ``POST /v1/models/<model>[/versions/<n>]:predict`` takes one of two body formats
(https://www.tensorflow.org/tfx/serving/api_rest):

    row       {"signature_name": s, "instances": [row, ...]}  ->  {"predictions": [row, ...]}
              a row is the value of the only input, or {"<input>": value, ...} when a signature
              has several; predictions drop the output name likewise when there is one output
    columnar  {"signature_name": s, "inputs": value or {"<input>": value, ...}}
              ->  {"outputs": value or {"<output>": value, ...}}

`signature_name` is omitted for ``serving_default``. Values are nested JSON lists; uint8 pixels
travel as integers. `answer` is the reference the tests hold real payloads against: it runs the
request through `ServingSession`, which loads and runs a SavedModel the way TF Serving's C++
`SavedModelBundle` does (the TF1 loader: the SavedModel's own restore op fills the variables,
then a session is fed and fetched by the SignatureDef's tensor names), and shapes the response
as the server does. An export that loads with TF2's `tf.saved_model.load` but not this way
would load here as it fails in the server.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np

from idcg_tf.console import tf_warnings_held
from idcg_tf.errors import UserError

FORMATS = ("row", "columnar")
DEFAULT_SIGNATURE = "serving_default"


def build_request(
    inputs: Mapping[str, np.ndarray] | np.ndarray,
    fmt: str = "row",
    signature_name: str = DEFAULT_SIGNATURE,
) -> dict:
    """The JSON body (as a dict: `json.dumps` it) of a predict request.

    Args:
        inputs: the one input as an array, or input name -> array; arrays are batches.
        fmt: "row" (`instances`) or "columnar" (`inputs`).
        signature_name: the signature to run.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    body: dict = {}
    if signature_name != DEFAULT_SIGNATURE:
        body["signature_name"] = signature_name
    if isinstance(inputs, Mapping):
        arrays = {k: np.asarray(v) for k, v in inputs.items()}
        if fmt == "columnar":
            body["inputs"] = {k: v.tolist() for k, v in arrays.items()}
        else:
            sizes = {len(v) for v in arrays.values()}
            if len(sizes) != 1:
                raise ValueError("row format needs the same batch size for every input")
            body["instances"] = [
                {k: v[i].tolist() for k, v in arrays.items()} for i in range(sizes.pop())
            ]
    else:
        array = np.asarray(inputs)
        body["inputs" if fmt == "columnar" else "instances"] = array.tolist()
    return body


class ServingSession:
    """A SavedModel loaded and run the way TF Serving loads and runs it.

    `tf.compat.v1.saved_model.loader.load` into a graph of its own, as `SavedModelBundle`
    and `saved_model_cli run` do, then `Session.run` fed and fetched by the tensor names of
    the SignatureDef. Missing or damaged files raise what the loader raises.

    Args:
        path: a SavedModel version folder, e.g. exported_models/NAME/image_to_video/1.
        tags: the MetaGraph's tag set.
    """

    def __init__(self, path, tags=("serve",)):
        import tensorflow as tf

        self.path = str(path)
        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph)
        # The TF1 loader on purpose (it is what TF Serving runs): its deprecation warning is
        # held back.
        with tf_warnings_held(), self.graph.as_default():
            meta_graph = tf.compat.v1.saved_model.loader.load(self.session, list(tags), self.path)
        self.signatures = dict(meta_graph.signature_def)

    def input_specs(self, signature_name: str) -> dict:
        """Input name -> (numpy dtype, shape with None for unknown dimensions)."""
        import tensorflow as tf

        specs = {}
        for name, info in self.signatures[signature_name].inputs.items():
            shape = tf.TensorShape(info.tensor_shape)
            specs[name] = (tf.dtypes.as_dtype(info.dtype).as_numpy_dtype, shape)
        return specs

    def run(self, signature_name: str, inputs: Mapping[str, np.ndarray]) -> dict:
        """Output name -> array of one signature for input name -> array."""
        signature = self.signatures[signature_name]
        feeds = {signature.inputs[k].name: v for k, v in inputs.items()}
        fetches = {k: info.name for k, info in signature.outputs.items()}
        return self.session.run(fetches, feeds)

    def close(self) -> None:
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _as_input(name: str, value, spec) -> np.ndarray:
    dtype, shape = spec
    try:
        array = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as error:
        raise UserError(f"input '{name}': not a {np.dtype(dtype).name} tensor ({error})") from None
    if not shape.is_compatible_with(array.shape):
        raise UserError(
            f"input '{name}': shape {list(array.shape)} does not match the "
            f"signature's {shape.as_list()} (None = any)"
        )
    return array


def _request_arrays(body: dict, specs: dict) -> tuple[str, dict[str, np.ndarray]]:
    names = list(specs)
    if ("instances" in body) == ("inputs" in body):
        raise UserError(
            "the request must hold exactly one of 'instances' (row format) or "
            "'inputs' (columnar format)"
        )
    if "instances" in body:
        rows = body["instances"]
        if not isinstance(rows, list) or not rows:
            raise UserError("'instances' must be a non-empty list")
        if all(isinstance(r, dict) for r in rows):
            columns = {n: [r[n] for r in rows if n in r] for n in names}
            if any(len(c) != len(rows) for c in columns.values()):
                raise UserError(f"every instance must name every input ({', '.join(names)})")
        elif len(names) == 1:
            columns = {names[0]: rows}
        else:
            raise UserError(
                f"the signature has several inputs ({', '.join(names)}): each "
                "instance must be an object naming them"
            )
        return "row", {n: _as_input(n, columns[n], specs[n]) for n in names}
    value = body["inputs"]
    if isinstance(value, dict):
        missing = [n for n in names if n not in value]
        if missing:
            raise UserError(f"'inputs' lacks {', '.join(missing)}")
        return "columnar", {n: _as_input(n, value[n], specs[n]) for n in names}
    if len(names) != 1:
        raise UserError(
            f"the signature has several inputs ({', '.join(names)}): 'inputs' "
            "must be an object naming them"
        )
    return "columnar", {names[0]: _as_input(names[0], value, specs[names[0]])}


def answer(server: ServingSession, body: dict | str | bytes) -> dict:
    """The response body TF Serving gives for a predict request `body`.

    Args:
        server: the SavedModel version the request goes to, loaded as the server loads it.
        body: the request, as JSON text or the decoded dict.
    """
    if isinstance(body, (str, bytes)):
        body = json.loads(body)
    name = body.get("signature_name", DEFAULT_SIGNATURE)
    if name not in server.signatures:
        raise UserError(f"no signature '{name}' (have: {', '.join(sorted(server.signatures))})")
    fmt, arrays = _request_arrays(body, server.input_specs(name))
    outputs = server.run(name, arrays)
    if fmt == "columnar":
        if len(outputs) == 1:
            return {"outputs": next(iter(outputs.values())).tolist()}
        return {"outputs": {k: v.tolist() for k, v in outputs.items()}}
    if len(outputs) == 1:
        return {"predictions": next(iter(outputs.values())).tolist()}
    batch = len(next(iter(outputs.values())))
    return {"predictions": [{k: v[i].tolist() for k, v in outputs.items()} for i in range(batch)]}


def parse_response(body: dict | str | bytes, dtype=np.float32) -> np.ndarray | dict:
    """The arrays of a predict response: one array, or output name -> array when the signature
    has several outputs. `dtype` is the signatures' output type (np.uint8 for serve_uint8)."""
    if isinstance(body, (str, bytes)):
        body = json.loads(body)
    if "error" in body:
        raise UserError(f"the server answered with an error: {body['error']}")
    if "predictions" in body:
        rows = body["predictions"]
        if rows and all(isinstance(r, dict) for r in rows):
            return {k: np.asarray([r[k] for r in rows], dtype) for k in rows[0]}
        return np.asarray(rows, dtype)
    if "outputs" in body:
        value = body["outputs"]
        if isinstance(value, dict):
            return {k: np.asarray(v, dtype) for k, v in value.items()}
        return np.asarray(value, dtype)
    raise UserError("not a predict response: expected 'predictions' or 'outputs'")


def predict_url(host: str, model: str, version: int | None = None, port: int = 8501) -> str:
    """The REST predict endpoint of `model` (the newest version when `version` is None)."""
    where = f"/versions/{version}" if version is not None else ""
    return f"http://{host}:{port}/v1/models/{model}{where}:predict"
