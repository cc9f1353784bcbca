"""TF Serving warmup records: `assets.extra/tf_serving_warmup_requests` in each SavedModel
version, a TFRecord file of `PredictionLog` requests that TF Serving replays when it loads the
version, so the first user request does not pay the graph's lazy initialisation. One request
per signature and batch size in WARMUP_BATCHES, on mid-grey inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from idcg_tf.deploy.layout import SIGNATURES, Direction

WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"
WARMUP_BATCHES = (1, 4)


def warmup_requests(d: Direction, input_shape) -> list:
    """The `PredictionLog` records of one generator: (signature, batch) in order."""
    import tensorflow as tf
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    logs = []
    for signature, value in zip(SIGNATURES, (np.float32(0.0), np.uint8(128))):
        for batch in WARMUP_BATCHES:
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=d.generator, signature_name=signature)
            )
            x = np.full([batch, *input_shape], value)
            request.inputs[d.input].CopyFrom(tf.make_tensor_proto(x))
            logs.append(
                prediction_log_pb2.PredictionLog(
                    predict_log=prediction_log_pb2.PredictLog(request=request)
                )
            )
    return logs


def write_warmup(saved_model: Path, d: Direction, input_shape) -> Path:
    """Writes the warmup file into the SavedModel folder `saved_model`; returns its path."""
    import tensorflow as tf

    path = Path(saved_model) / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for log in warmup_requests(d, input_shape):
            writer.write(log.SerializeToString())
    return path


def read_warmup(path: Path) -> list:
    """The `PredictionLog` records of a warmup file, as TF Serving reads them."""
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    return [
        prediction_log_pb2.PredictionLog.FromString(record.numpy())
        for record in tf.data.TFRecordDataset(str(path))
    ]
