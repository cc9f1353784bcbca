"""Translate face images to videos and face videos to images with an exported model.

    idcg-translate --model exported_models/NAME --input PATH [PATH ...] --output DIR
        [--backend onnx|tf|litert|litert_fp16|litert_int8] [--all-clips] [--batch-size 8] [--frames] [--fps 8]

Images give DIR/<stem>_video.gif, _video.mp4 and _strip.png; videos (or frame folders, with
--frames) give DIR/<stem>_image.png and _sheet.png. An input that fails is reported on one line
and the others are still done; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import sys

from idcg_tf.cli import console_script
from idcg_tf.deploy.exported_model import BACKENDS


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="exported model folder (export.json)")
    parser.add_argument(
        "--input",
        required=True,
        nargs="+",
        metavar="PATH",
        help="image or video files, or folders of them",
    )
    parser.add_argument("--output", required=True, help="output folder")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        help="default: onnx when the export has .onnx files, else tf; litert (float32), "
        "litert_fp16 and litert_int8 need an export made with --litert",
    )
    parser.add_argument(
        "--all-clips",
        action="store_true",
        help="translate every clip of a video, not only the first",
    )
    parser.add_argument("--batch-size", type=int, default=8, help="samples per model call")
    parser.add_argument(
        "--frames",
        action="store_true",
        help="input folders are frame folders (one video per folder of images)",
    )
    parser.add_argument("--fps", type=int, default=8, help="frame rate of the GIFs and MP4s")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    from tqdm import tqdm

    from idcg_tf.deploy.exported_model import ExportedModel
    from idcg_tf.deploy.translate import translate_paths

    model = ExportedModel(args.model, args.backend)
    result = translate_paths(
        model,
        args.input,
        args.output,
        all_clips=args.all_clips,
        batch_size=args.batch_size,
        frames_folders=args.frames,
        fps=args.fps,
        progress=not args.no_progress,
        report=lambda failure: tqdm.write(f"failed: {failure.line()}", file=sys.stderr),
    )
    print(
        f"translated {len(result.translated)} input(s) with {model.backend} into "
        f"{args.output}; {len(result.failed)} failed"
    )
    return 1 if result.failed else 0


cli = console_script(main)  # the `idcg-translate` console script
