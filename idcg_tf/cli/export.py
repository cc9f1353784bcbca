"""Export a trained run's generators for TF Serving (SavedModel) and ONNX Runtime.

    idcg-export --workdir runs/NAME [--step N] --name NAME [--output exported_models]
        [--no-onnx] [--opset 17] [--litert]

Writes OUTPUT/NAME/<generator>/<version>/ (the next version), OUTPUT/NAME/<generator>.onnx and
OUTPUT/NAME/export.json (with --litert also OUTPUT/NAME/<generator>[.fp16|.int8].tflite); see idcg_tf/deploy/export.py and docs/deployment.md.
"""

from __future__ import annotations

import argparse

from idcg_tf.cli import console_script


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", required=True, help="training run directory")
    parser.add_argument("--step", type=int, help="checkpoint step to export (default: latest)")
    parser.add_argument("--name", required=True, help="model name (folder under --output)")
    parser.add_argument("--output", default="exported_models", help="exported models folder")
    parser.add_argument("--no-onnx", action="store_true", help="write the SavedModels only")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (13 to 18)")
    parser.add_argument(
        "--litert",
        action="store_true",
        help="also write LiteRT models (<generator>.tflite, .fp16.tflite, .int8.tflite)",
    )
    args = parser.parse_args(argv)

    from idcg_tf.deploy.export import export_run

    record = export_run(
        args.workdir,
        args.name,
        args.output,
        step=args.step,
        onnx=not args.no_onnx,
        opset=args.opset,
        log=print,
        litert=args.litert,
    )
    print(
        f"done: {args.output}/{args.name} version {record['version']} from "
        f"{record['source']['workdir']} step {record['source']['step']}"
    )
    return 0


cli = console_script(main)  # the `idcg-export` console script
