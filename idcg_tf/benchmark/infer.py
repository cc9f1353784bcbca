"""`benchmark infer`: latency of both generators at batch 1 and 8 in TF eager, tf.function,
a SavedModel reloaded in TF2 (`tf.saved_model.load`) and through the TF1 loader TF Serving
uses, ONNX Runtime and LiteRT (float32, float16, int8: the graphs and files
`idcg_tf.deploy.export` writes), with each LiteRT variant's size and its largest difference
from the eager output; with a PyTorch peer, its eval forward of the same translator in the
same run, one block of calls before each of our runtimes, and each runtime's ratio to the
block beside it."""

from __future__ import annotations

import contextlib
import tempfile
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from idcg_tf.benchmark import timing
from idcg_tf.config import Config

BATCHES = (1, 8)


def benchmark_infer(cfg: Config, repeats: int = 20, log=None, peer=None, rounds: int = 1) -> dict:
    """p50/p90 latency in milliseconds per (generator, runtime, batch), `repeats` calls per
    runtime and round, the median over `rounds` rounds. The networks are freshly initialised:
    latency does not depend on the weights' values. `peer`: a `torch_peer.TorchPeer` whose
    translators are timed too, `repeats` calls before each of our runtimes in each round
    (runtime "pytorch": the median of those blocks)."""
    import onnxruntime as ort

    from idcg_tf.deploy import generator_module as export
    from idcg_tf.deploy import litert
    from idcg_tf.deploy.exported_model import LITERT_BACKENDS
    from idcg_tf.deploy.serving import ServingSession
    from idcg_tf.models import build_networks

    log = log or (lambda line: None)
    nets = build_networks(cfg.task.model)
    shapes = export.tensor_shapes(cfg)
    results = []
    # Seconds each export format takes per generator, the way `idcg-export` writes it.
    export_seconds = {}
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="idcg-infer-"))
        for name, module in export.generator_modules(cfg, nets).items():
            path = Path(tmp) / name
            seconds = export_seconds[name] = {}
            start = time.perf_counter()
            export.write_saved_model(module, path)
            seconds["saved_model"] = time.perf_counter() - start
            loaded = tf.saved_model.load(str(path)).signatures["serving_default"]
            tf1 = stack.enter_context(ServingSession(path))
            start = time.perf_counter()
            proto = export.onnx_model(module).SerializeToString()
            seconds["onnx"] = time.perf_counter() - start
            session = ort.InferenceSession(proto, providers=["CPUExecutionProvider"])
            onnx_input = session.get_inputs()[0].name
            lite = {}
            start = time.perf_counter()
            flatbuffers = litert.convert_module(module, Path(tmp))
            seconds["litert"] = time.perf_counter() - start  # its three variants
            log(f"{name} export: " + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()))
            for backend, variant in LITERT_BACKENDS.items():
                file = Path(tmp) / litert.file_name(name, variant)
                file.write_bytes(flatbuffers[variant])
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
                    "tf1_session": lambda: tf1.run("serving_default", {module.input_name: x})[
                        module.output_name
                    ],
                    "onnxruntime": lambda: session.run(None, {onnx_input: x})[0],
                    **{k: (lambda r=runner: r(x)) for k, (runner, _) in lite.items()},
                }
                reference = np.asarray(model(xt, training=False))
                results += _time_row(
                    name, batch, runtimes, lite, reference, repeats, rounds, peer, log
                )
    return {
        "section": "infer",
        "config": cfg.name,
        "repeats": repeats,
        "rounds": rounds,
        "export_seconds": export_seconds,
        "latency": results,
    }


def _time_row(name, batch, runtimes, lite, reference, repeats, rounds, peer, log) -> list:
    """The records of one (generator, batch): every runtime timed `rounds` times in turn.
    PyTorch's calls alternate with ours: one block of the peer's before each of our runtimes,
    each ratio taken against the block next to it, so a slow minute on a noisy machine moves
    one ratio, not the whole row; over several rounds, each runtime's p50 and ratio are the
    medians of its rounds'."""
    timed = {runtime: [] for runtime in runtimes}  # per round: (p50 ms, p90 ms, peer's p50)
    torch_blocks = []
    for round_ in range(rounds):
        tag = f" (round {round_ + 1}/{rounds})" if rounds > 1 else ""
        for runtime, fn in runtimes.items():
            if peer is not None:
                timing.settle()
                torch_blocks.append(peer.infer(name, batch, repeats))
            ms = timing.runtime_ms(fn, repeats)
            beside = torch_blocks[-1]["p50_ms"] if torch_blocks else None
            timed[runtime].append((ms["p50"], ms["p90"], beside))
            ratio = f" ({ms['p50'] / beside:.2f}x PyTorch's {beside:.1f})" if beside else ""
            log(
                f"{name} {runtime:12} batch {batch}: p50 {ms['p50']:.1f} ms, "
                f"p90 {ms['p90']:.1f} ms{ratio}{tag}"
            )
    records = []
    for runtime, per_round in timed.items():
        p50s = [p50 for p50, _, _ in per_round]
        record = {
            "generator": name,
            "runtime": runtime,
            "batch": batch,
            "p50_ms": float(np.median(p50s)),
            "p90_ms": float(np.median([p90 for _, p90, _ in per_round])),
        }
        if rounds > 1:
            record["round_p50_ms"] = p50s
        if runtime in lite:
            record["size_mib"] = lite[runtime][1]
        if runtime in lite or runtime == "tf1_session":
            record["max_abs_vs_eager"] = float(np.abs(runtimes[runtime]() - reference).max())
        if torch_blocks:
            ratios = [p50 / beside for p50, _, beside in per_round]
            record["pytorch_p50_ms"] = float(np.median([b for _, _, b in per_round]))
            record["p50_ratio_to_pytorch"] = float(np.median(ratios))
            if rounds > 1:
                record["round_ratios_to_pytorch"] = ratios
                log(
                    f"{name} {runtime:12} batch {batch}: p50 {record['p50_ms']:.1f} ms, "
                    f"{record['p50_ratio_to_pytorch']:.2f}x PyTorch (median of {rounds} rounds)"
                )
        records.append(record)
    if torch_blocks:
        p50s = [b["p50_ms"] for b in torch_blocks]
        records.append(
            {
                "generator": name,
                "runtime": "pytorch",
                "batch": batch,
                "p50_ms": float(np.median(p50s)),
                "p90_ms": float(np.median([b["p90_ms"] for b in torch_blocks])),
                "block_p50_ms": p50s,
            }
        )
        log(
            f"{name} {'pytorch':12} batch {batch}: p50 {records[-1]['p50_ms']:.1f} ms "
            f"(median of {len(p50s)} blocks, {min(p50s):.1f}-{max(p50s):.1f})"
        )
    return records
