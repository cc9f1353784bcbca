"""`benchmark layers`: where each inference engine's time goes inside the generators. Every step
of both translators (`Translator.steps`: each residual block, each convolution with its
BatchNorm and activation, the folds between the 3D and the 2D halves) is converted alone the
way the export converts the whole generator (the TF graph with the autotuner's forms; ONNX
with ONNX_FORMS through tf2onnx; the LiteRT float32 file with LITERT_FORMS in its trace), and
the three are timed on the step's own input, in turn, `rounds` rounds of `repeats` calls: the
p50 per step and engine is the median of its rounds'."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf

from idcg_tf.benchmark import timing
from idcg_tf.config import Config
from idcg_tf.deploy.generator_module import GeneratorModule

ENGINES = ("tf_graph", "onnxruntime", "litert")


class _StepModule(GeneratorModule):
    """One step of a generator as a `GeneratorModule`: its signatures run the step alone, on the
    generator's variables (so the convolution forms set on the generator apply)."""

    def __init__(self, generator, step, input_shape):
        self._step = step  # a function: tf.Module tracks none of what it holds
        super().__init__(generator, "x", "y", input_shape, name="step")

    def retraced(self) -> _StepModule:
        return _StepModule(self.model, self._step, self.serve.input_signature[0].shape[1:])

    def _serve(self, x):
        return {self.output_name: self._step(x)}

    def _serve_uint8(self, pixels):  # saved with the module, never timed
        return self._serve(tf.cast(pixels, tf.float32))

    @property
    def signatures(self) -> dict:
        return {"serving_default": self.serve}


def _engines(generator, name: str, step, x: np.ndarray, workdir: Path) -> dict:
    """{engine: a call of it on `x`} for the step `name` of `generator`, converted as the
    export converts a generator (`onnx_model`, `litert.convert_module`)."""
    import onnxruntime as ort

    from idcg_tf.deploy import litert
    from idcg_tf.deploy.generator_module import onnx_model

    module = _StepModule(generator, step, x.shape[1:])
    proto = onnx_model(module)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    file = workdir / f"{generator.name}.{name}.tflite"  # one file per interpreter
    file.write_bytes(litert.convert_module(module, workdir, ("float32",))["float32"])
    lite = litert.LiteRTRunner(file)
    onnx_input = session.get_inputs()[0].name
    xt = tf.constant(x)
    return {
        "tf_graph": lambda: np.asarray(module.serve(xt)["y"]),
        "onnxruntime": lambda: session.run(None, {onnx_input: x})[0],
        "litert": lambda: lite(x),
    }


def benchmark_layers(cfg: Config, batch: int = 1, repeats: int = 20, rounds: int = 1, log=None):
    """Per generator and step: its input shape and the p50 in ms of each engine (ENGINES),
    with the steps' sums per generator. Freshly initialised networks, as `benchmark infer`."""
    from idcg_tf.deploy import generator_module as export
    from idcg_tf.deploy.layout import DIRECTIONS
    from idcg_tf.models import build_networks

    log = log or (lambda line: None)
    nets = build_networks(cfg.task.model)
    shapes = export.tensor_shapes(cfg)
    steps_out, totals = [], {}
    with tempfile.TemporaryDirectory(prefix="idcg-layers-") as tmp:
        for d in DIRECTIONS:
            generator = getattr(nets, d.generator)
            x = np.random.default_rng(0).uniform(-1, 1, [batch, *shapes[d.input]])
            x = tf.constant(x.astype(np.float32))
            generator(x, training=False)  # built, its autotuner's choices made
            totals[d.generator] = dict.fromkeys(ENGINES, 0.0)
            for name, step in generator.steps(training=False):
                engines = _engines(generator, name, step, x.numpy(), Path(tmp))
                per_round = {engine: [] for engine in ENGINES}
                for _ in range(rounds):
                    for engine, fn in engines.items():
                        per_round[engine].append(timing.runtime_ms(fn, repeats)["p50"])
                record = {
                    "generator": d.generator,
                    "step": name,
                    "input_shape": [int(v) for v in x.shape],
                    **{f"{e}_ms": float(np.median(per_round[e])) for e in ENGINES},
                }
                for engine in ENGINES:
                    totals[d.generator][engine] += record[f"{engine}_ms"]
                steps_out.append(record)
                log(
                    f"{d.generator} {name:34} {str(record['input_shape']):22} "
                    + " ".join(f"{e} {record[f'{e}_ms']:7.2f}" for e in ENGINES)
                    + " ms"
                )
                x = step(x)
            log(
                f"{d.generator} {'sum of the steps':34} {'':22} "
                + " ".join(f"{e} {totals[d.generator][e]:7.2f}" for e in ENGINES)
                + " ms"
            )
    return {
        "section": "layers",
        "config": cfg.name,
        "batch": batch,
        "repeats": repeats,
        "rounds": rounds,
        "steps": steps_out,
        "sum_ms": totals,
    }
