"""Measure IdCycleGAN's speed: JSON on stdout, a readable table on stderr.

    idcg-benchmark train --config celeb_model1 --batch 4 \\
        [--iterations 3] [--warmup 1] [--set task.model.conv_impl=custom] [--compare-impl stock] \
        [--torch-peer /tmp/torchvenv/bin/python] [--profile runs/profile]
    idcg-benchmark facenet [--batch 4]
    idcg-benchmark data --config tiny --set task.data.train_clips=... [--batches 50]
    idcg-benchmark infer --config tiny [--repeats 20] [--rounds 1] \
        [--torch-peer /tmp/torchvenv/bin/python]
    idcg-benchmark layers --config tiny [--batch 1] [--repeats 20] [--rounds 1]
    idcg-benchmark prepare
    idcg-benchmark litert --model exported_models/demo --images GLOB --clips GLOB [--samples 16]

Sections: train (samples/s, FLOPs, MFU against this process's measured matmul peak, memory),
facenet (identity loss cost per sample), data (reader clips/s vs what training consumes),
infer (latency p50/p90 of the generators: eager, tf.function, SavedModel in TF2 and through TF
Serving's TF1 loader, ONNX Runtime, LiteRT; with --torch-peer, the PyTorch build's forward),
layers (each step of the generators alone in the TF graph, ONNX Runtime and LiteRT float32),
prepare (prepare_data's frames/s per path: detection, the dataset's boxes, its aligned crops),
litert (FaceNet score and verification of an export's LiteRT variants against its SavedModel).
"""

from __future__ import annotations

import argparse
import json
import sys

from idcg_tf.architecture import CONV_IMPL_ALIASES, CONV_IMPLS
from idcg_tf.benchmark import SECTIONS
from idcg_tf.cli import add_overrides, console_script


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _short(value) -> str:
    """A value as the console table shows it: floats to 4 significant digits."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list) and not any(isinstance(v, (dict, list)) for v in value):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _rows(record: dict, prefix: str = ""):
    """(key, text) lines of a record: nested records as dotted keys, a list of records one
    line each (the whole record, unabridged, is the JSON line on stdout)."""
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from _rows(value, f"{name}.")
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for i, item in enumerate(value):
                yield f"{name}[{i}]", " ".join(f"{k}={_short(v)}" for k, v in item.items())
        else:
            yield name, _short(value)


def _table(title: str, record: dict) -> None:
    _log(f"== {title}")
    for key, text in _rows(record):
        _log(f"  {key:28} {text}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("section", choices=SECTIONS)
    parser.add_argument(
        "--config", default="tiny", help="a shipped config's name or a YAML file (default: tiny)"
    )
    add_overrides(parser)
    parser.add_argument(
        "--batch",
        type=int,
        default=None,
        help="global batch (default: trainer.batch_size; facenet: 4; layers: 1)",
    )
    parser.add_argument("--iterations", type=int, default=3, help="train: timed iterations")
    parser.add_argument("--warmup", type=int, default=1, help="train: untimed iterations first")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        default=None,
        help="train: one more iteration under TensorFlow's profiler, its trace written to DIR "
        "(TensorBoard) and where its time went, per op kind and network, in the record",
    )
    parser.add_argument(
        "--compare-impl",
        action="append",
        default=[],
        choices=[*CONV_IMPLS, *CONV_IMPL_ALIASES],  # the older names read as "custom"
        help="train: also time this task.model.conv_impl in the same process",
    )
    parser.add_argument(
        "--torch-peer",
        metavar="PYTHON",
        default=None,
        help="train, infer: also time tools/torch_reference.py of a clone (the "
        "PyTorch build of the same iteration and translators) with this Python, "
        "alternating with ours, and report the ratios (see docs/performance.md for its venv)",
    )
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=2,
        help="train, infer: torch.set_num_threads of the PyTorch reference",
    )
    parser.add_argument("--batches", type=int, default=50, help="data: batches to read")
    parser.add_argument(
        "--repeats", type=int, default=20, help="facenet, infer, layers: timed calls"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="infer, layers: time every runtime this many times in turn (infer: each with its "
        "own PyTorch block); its p50 and ratio are the medians over the rounds",
    )
    parser.add_argument("--model", help="litert: an export made with --litert")
    parser.add_argument("--images", help="litert: image TFRecord glob")
    parser.add_argument("--clips", help="litert: clip TFRecord glob")
    parser.add_argument("--samples", type=int, default=16, help="litert: samples per direction")
    args = parser.parse_args(argv)

    from idcg_tf import config

    cfg = config.load(args.config, args.set)
    from idcg_tf import benchmark

    # The per-section options go through as given; each section reads the ones it uses.
    options = (
        *("batch", "iterations", "warmup", "batches", "repeats", "rounds", "torch_peer"),
        "torch_threads",
        *("model", "images", "clips", "samples"),
        "profile",
    )
    result = benchmark.run_section(
        args.section,
        cfg,
        compare_impls=[CONV_IMPL_ALIASES.get(i, i) for i in args.compare_impl],
        log=_log,
        **{name: getattr(args, name) for name in options},
    )
    for key, record in result.items():
        for i, item in enumerate(record if isinstance(record, list) else [record]):
            _table(f"{key}[{i}]" if isinstance(record, list) else key, item)
    print(json.dumps(result))
    return 0


# `train` runs under jemalloc as training does; the other sections time what the inference
# tools run on, glibc's malloc.
cli = console_script(main, trains=lambda args: args[:1] == ["train"])  # `idcg-benchmark`
