"""One-command GPU check (`make gpu-check`): paper-size benchmark in float32 and mixed_float16,
a few real training steps with 1 replica, export and its parity; a JSON report. On a machine
without a GPU it says so and runs the training/export/parity part quickly on the CPU.

    idcg-gpu-check [--report runs/gpu_check.json]

Exit status 0 when every check passed, 1 when one failed (the report says which).
"""

from __future__ import annotations

import argparse
import sys

from idcg_tf.cli import console_script


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", default="runs/gpu_check.json", help="JSON report path")
    args = parser.parse_args(argv)
    from idcg_tf.benchmark.gpu_check import gpu_check

    report = gpu_check(args.report, log=lambda line: print(line, file=sys.stderr, flush=True))
    return 0 if report["ok"] else 1


cli = console_script(main)  # the `idcg-gpu-check` console script
