"""Evaluate trained IdCycleGAN runs: FaceNet score (Table 1), verification rate, cycle error,
identity score curve (Fig. 6), sample sheets (Fig. 4/5), side-by-side comparison.

    idcg-evaluate --workdir runs/X [--step N] [--samples 1000] [--output runs/X/eval]
        [--threshold 1.1] [--images PATTERN --clips PATTERN] [--curve] [--compare runs/A ...]
        [--batchnorm moving|batch]

Writes metrics.json, table.md, image_to_video.png, video_to_image.png, gifs/ and, with --curve,
curve.png (plus eval/facenet_score_* in each run's TensorBoard).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from idcg_tf.cli import console_script


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", help="the run to evaluate (a training workdir)")
    parser.add_argument(
        "--step", type=int, help="checkpoint step of --workdir (default: the latest)"
    )
    parser.add_argument(
        "--compare",
        nargs="+",
        default=[],
        metavar="WORKDIR",
        help="more runs (latest checkpoints), side by side in one table and one sheet per dataset",
    )
    parser.add_argument("--output", help="output folder (default: WORKDIR/eval)")
    parser.add_argument(
        "--samples",
        type=int,
        help="test samples per direction (default 1000, as the paper; fewer "
        "when the split holds fewer)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        help="same-person threshold on the FaceNet L2 distance of normalised "
        "embeddings, for the verification rate (default 1.1 = 1.21 "
        "squared, in FaceNet's 1.1-1.24 squared-L2 LFW range)",
    )
    parser.add_argument(
        "--images",
        help="image TFRecord glob (default: each run's task.data.test_images, else task.data.train_images)",
    )
    parser.add_argument(
        "--clips",
        help="clip TFRecord glob (default: each run's task.data.test_clips, else task.data.train_clips)",
    )
    parser.add_argument(
        "--curve",
        action="store_true",
        help="also score every kept checkpoint: curve.png and TensorBoard",
    )
    parser.add_argument(
        "--curve-samples",
        type=int,
        help="samples per direction for each curve point (default: --samples)",
    )
    parser.add_argument(
        "--frames",
        type=int,
        nargs="+",
        help="frame numbers shown in the sheets (default: 1 8 32, as the "
        "paper; clamped to short clips)",
    )
    parser.add_argument(
        "--sheet-samples", type=int, help="rows of the sample sheets and GIFs per run (default 8)"
    )
    parser.add_argument("--batch-size", type=int, help="samples translated at once (default 16)")
    parser.add_argument("--seed", type=int, help="which samples are evaluated (default 0)")
    parser.add_argument(
        "--batchnorm",
        choices=("moving", "batch"),
        help="generators' BatchNorm: 'moving' averages from training "
        "(default; inference mode, as exported models) or 'batch' "
        "statistics of each --batch-size batch (training mode, as the "
        "authors' TF1 code sampled)",
    )
    _add_generation_options(parser)
    return parser


def _add_generation_options(parser) -> None:
    parser.add_argument(
        "--generation",
        action="store_true",
        help="video generation runs (configs/gen_*.yaml): Frechet FaceNet "
        "distance, identity stability and motion of --samples generated "
        "clips (default 64) against as many real --clips; writes "
        "generation.json, generation.md, generation_sheet.png",
    )
    parser.add_argument(
        "--frame-step", type=int, help="--generation: embed every k-th frame (default 1: all)"
    )
    parser.add_argument(
        "--facenet-weights",
        help="Keras weights file for FaceNet (default: the converted 20180408-102900 model)",
    )


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from idcg_tf.errors import UserError

    if args.step is not None and not args.workdir:
        raise UserError("--step: needs --workdir (compared runs use their latest checkpoint)")
    if not args.workdir and not args.compare:
        raise UserError("give --workdir RUN or --compare RUN [RUN ...]")
    if not args.output and not args.workdir:
        raise UserError("--output: required with --compare when no --workdir is given")

    if args.generation:
        return _evaluate_generation(args)
    if args.frame_step is not None:
        raise UserError("--frame-step: only with --generation")
    return _evaluate_translation(args)


def _evaluate_generation(args) -> int:
    from idcg_tf.errors import UserError
    from idcg_tf.generation.metrics import evaluate_generation_runs, table_markdown

    # The options a generation evaluation does not use are refused, by name.
    for option in (
        "images",
        "threshold",
        "curve",
        "curve_samples",
        "frames",
        "sheet_samples",
        "batch_size",
        "batchnorm",
    ):
        if getattr(args, option) not in (None, False):
            raise UserError(f"--{option.replace('_', '-')}: not used with --generation")

    runs = ([(args.workdir, args.step)] if args.workdir else []) + [(w, None) for w in args.compare]
    output = args.output or f"{args.workdir.rstrip('/')}/eval"
    results = evaluate_generation_runs(
        runs,
        output,
        num=args.samples or 64,
        seed=args.seed or 0,
        frame_step=args.frame_step or 1,
        clips=args.clips,
        facenet_weights=args.facenet_weights,
    )
    print(table_markdown(results), end="")
    return 0


def _evaluate_translation(args) -> int:
    from idcg_tf.evaluation import EvalOptions, evaluate_runs

    runs = ([(args.workdir, args.step)] if args.workdir else []) + [(w, None) for w in args.compare]
    given = dict(
        samples=args.samples,
        threshold=args.threshold,
        images=args.images,
        clips=args.clips,
        curve=args.curve,
        curve_samples=args.curve_samples,
        frames=tuple(args.frames) if args.frames else None,
        sheet_samples=args.sheet_samples,
        batch_size=args.batch_size,
        seed=args.seed,
        facenet_weights=args.facenet_weights,
        batchnorm=args.batchnorm,
    )
    # Unset options keep EvalOptions' defaults, which the help texts above repeat.
    options = EvalOptions(**{k: v for k, v in given.items() if v is not None})
    output = args.output or f"{args.workdir.rstrip('/')}/eval"
    evaluate_runs(runs, output, options)
    print(Path(output, "table.md").read_text(), end="")
    return 0


cli = console_script(main)  # the `idcg-evaluate` console script
