"""`benchmark infer`: latency of both generators at batch 1 and 8 in TF eager, tf.function,
a reloaded SavedModel, ONNX Runtime and LiteRT (float32, float16, int8: the graphs and files
`idcg_tf.deploy.export` writes), with each LiteRT variant's size and its largest difference
from the eager output."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf

from idcg_tf.benchmark import timing
from idcg_tf.config import Config

BATCHES = (1, 8)


def benchmark_infer(cfg: Config, repeats: int = 20, log=None) -> dict:
    """p50/p90 latency in milliseconds per (generator, runtime, batch). The networks are freshly
    initialised: latency does not depend on the weights' values."""
    import onnxruntime as ort

    from idcg_tf.deploy import generator_module as export
    from idcg_tf.deploy import litert
    from idcg_tf.deploy.exported_model import LITERT_BACKENDS
    from idcg_tf.models import build_networks

    log = log or (lambda line: None)
    nets = build_networks(cfg.task.model)
    shapes = export.tensor_shapes(cfg)
    results = []
    with tempfile.TemporaryDirectory(prefix="idcg-infer-") as tmp:
        for name, module in export.generator_modules(cfg, nets).items():
            path = Path(tmp) / name
            export.write_saved_model(module, path)
            loaded = tf.saved_model.load(str(path)).signatures["serving_default"]
            session = ort.InferenceSession(
                export.onnx_model(module).SerializeToString(), providers=["CPUExecutionProvider"]
            )
            onnx_input = session.get_inputs()[0].name
            lite = {}
            for backend, variant in LITERT_BACKENDS.items():
                file = Path(tmp) / litert.file_name(name, variant)
                file.write_bytes(litert.convert(path, variant))
                lite[backend] = (
                    litert.LiteRTRunner(file),
                    file.stat().st_size / 2**20,
                )
            model = getattr(nets, name)
            for batch in BATCHES:
                x = (
                    np.random.default_rng(0)
                    .uniform(-1, 1, [batch, *shapes[module.input_name]])
                    .astype(np.float32)
                )
                xt = tf.constant(x)
                runtimes = {
                    "eager": lambda: np.asarray(model(xt, training=False)),
                    "tf_function": lambda: np.asarray(module.serve(xt)[module.output_name]),
                    "saved_model": lambda: np.asarray(loaded(xt)[module.output_name]),
                    "onnxruntime": lambda: session.run(None, {onnx_input: x})[0],
                    **{k: (lambda r=runner: r(x)) for k, (runner, _) in lite.items()},
                }
                reference = np.asarray(model(xt, training=False))
                for runtime, fn in runtimes.items():
                    fn()  # warm up (tracing, graph optimisation)
                    ms = {
                        k: v * 1e3
                        for k, v in timing.percentiles(timing.time_calls(fn, repeats)).items()
                    }
                    record = {
                        "generator": name,
                        "runtime": runtime,
                        "batch": batch,
                        "p50_ms": ms["p50"],
                        "p90_ms": ms["p90"],
                    }
                    if runtime in lite:
                        record["size_mib"] = lite[runtime][1]
                        record["max_abs_vs_eager"] = float(np.abs(fn() - reference).max())
                    results.append(record)
                    log(
                        f"{name} {runtime:12} batch {batch}: p50 {ms['p50']:.1f} ms, "
                        f"p90 {ms['p90']:.1f} ms"
                    )
    return {"section": "infer", "config": cfg.name, "repeats": repeats, "latency": results}
