#!/usr/bin/env python
"""Measure IdCycleGAN's speed: JSON on stdout, a readable table on stderr.

    python tools/benchmark.py train --config configs/celeb_model1.yaml --batch 4 \\
        [--iterations 3] [--warmup 1] [--set model.conv3d_impl=taps] [--compare-impl stock] \
        [--torch-peer /tmp/torchvenv/bin/python]
    python tools/benchmark.py facenet [--batch 4]
    python tools/benchmark.py data --config configs/tiny.yaml --set data.train_clips=... [--batches 50]
    python tools/benchmark.py infer --config configs/tiny.yaml [--repeats 20]

Sections: train (samples/s, FLOPs, MFU against this process's measured matmul peak, memory),
facenet (identity loss cost per sample), data (reader clips/s vs what training consumes),
infer (latency p50/p90 of the generators: eager, tf.function, SavedModel, ONNX Runtime).
"""

from __future__ import annotations

import argparse
import json
import sys

from idcg_tf.cli import run_tool
from idcg_tf.config import CONV3D_IMPLS


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _table(title: str, record: dict) -> None:
    _log(f"== {title}")
    for key, value in record.items():
        if isinstance(value, float):
            value = f"{value:.4g}"
        elif isinstance(value, (dict, list)):
            value = json.dumps(value)
        _log(f"  {key:28} {value}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("section", choices=["train", "facenet", "data", "infer"])
    parser.add_argument("--config", default="configs/tiny.yaml", help="YAML config")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one config value (repeatable)")
    parser.add_argument("--batch", type=int, default=None,
                        help="global batch (default: train.batch_size; facenet: 4)")
    parser.add_argument("--iterations", type=int, default=3, help="train: timed iterations")
    parser.add_argument("--warmup", type=int, default=1, help="train: untimed iterations first")
    parser.add_argument("--compare-impl", action="append", default=[],
                        choices=list(CONV3D_IMPLS),
                        help="train: also time this model.conv3d_impl in the same process")
    parser.add_argument("--torch-peer", metavar="PYTHON", default=None,
                        help="train: also time tools/torch_reference.py (the PyTorch build of "
                             "the same iteration) with this Python, after ours, and report "
                             "the ratio (see docs/performance.md for its venv)")
    parser.add_argument("--torch-threads", type=int, default=2,
                        help="train: torch.set_num_threads of the PyTorch reference")
    parser.add_argument("--batches", type=int, default=50, help="data: batches to read")
    parser.add_argument("--repeats", type=int, default=20, help="facenet/infer: timed calls")
    args = parser.parse_args(argv)

    from idcg_tf import config

    cfg = config.load(args.config, args.set)
    from idcg_tf import benchmark

    result = benchmark.run_section(args.section, cfg, batch=args.batch,
                                   iterations=args.iterations, warmup=args.warmup,
                                   compare_impls=args.compare_impl, batches=args.batches,
                                   repeats=args.repeats, torch_peer=args.torch_peer,
                                   torch_threads=args.torch_threads,
                                   log=_log)
    for key, record in result.items():
        for i, item in enumerate(record if isinstance(record, list) else [record]):
            _table(f"{key}[{i}]" if isinstance(record, list) else key, item)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    run_tool(main)
