"""Translate face images to videos and face videos to images with an exported model.

    idcg-translate --model exported_models/NAME --input PATH [PATH ...] --output DIR
        [--backend onnx|tf|litert|litert_fp16|litert_int8] [--all-clips] [--batch-size 8]
        [--frames] [--fps 8] [--facenet]

Images give DIR/<stem>_video.gif, _video.mp4 and _strip.png; videos (or frame folders, with
--frames) give DIR/<stem>_image.png and _sheet.png. With --facenet, each translation's FaceNet
distance to its input face is printed and written to DIR/facenet_distances.json. An input that
fails is reported on one line and the others are still done; the exit status is then 1.
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
    parser.add_argument(
        "--facenet",
        action="store_true",
        help="measure the FaceNet distance between each input face and its translation (the "
        "paper's Eq. 8; needs the identity extra); printed and written to "
        "OUTPUT/facenet_distances.json",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    from tqdm import tqdm

    from idcg_tf.deploy.exported_model import ExportedModel
    from idcg_tf.deploy.translate import FACENET_FILE, translate_paths
    from idcg_tf.identity.scoring import DEFAULT_THRESHOLD

    model = ExportedModel(args.model, args.backend)
    embed, done = None, None
    if args.facenet:
        from idcg_tf.identity.facenet import FaceNetEmbedder
        from idcg_tf.identity.scoring import compiled_embedder

        embed = compiled_embedder(FaceNetEmbedder())

        def done(translated):
            for row in translated.records(DEFAULT_THRESHOLD):
                verdict = "same person" if row["same_person"] else "not the same person"
                tqdm.write(
                    f"{row['output']}: FaceNet distance {row['facenet_distance']:.4f} to "
                    f"{row['input']} ({verdict} at <= {DEFAULT_THRESHOLD:g})"
                )

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
        embed=embed,
        done=done,
    )
    print(
        f"translated {len(result.translated)} input(s) with {model.backend} into "
        f"{args.output}; {len(result.failed)} failed"
    )
    if args.facenet and result.scores:
        mean = sum(row["facenet_distance"] for row in result.scores) / len(result.scores)
        same = sum(row["same_person"] for row in result.scores)
        print(
            f"FaceNet distance input -> translation: mean {mean:.4f} over "
            f"{len(result.scores)}, {same} within {DEFAULT_THRESHOLD:g} (same person); "
            f"per translation in {args.output}/{FACENET_FILE}"
        )
    return 1 if result.failed else 0


cli = console_script(main)  # the `idcg-translate` console script
