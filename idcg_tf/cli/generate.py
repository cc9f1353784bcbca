"""Sample clips from a trained video generator (a run of configs/gen_*.yaml).

    idcg-generate --workdir runs/gen_wgan_one_stream [--step N] --num 8 \
        --output generated/wgan [--seed 0] [--format gif|mp4|both] [--fps 8]

Writes clip_000.gif ... (and/or .mp4) and sheet.png: one row per clip, frames 1, 8, 16, 32
(the paper's Fig. 3 layout; clamped for shorter clips). The same seed gives the same clips;
clip i does not depend on --num.
"""

from __future__ import annotations

import argparse

from idcg_tf.cli import console_script


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", required=True, help="run directory of a generation run")
    parser.add_argument("--step", type=int, help="checkpoint step (default: the latest)")
    parser.add_argument("--num", type=int, default=8, help="clips to sample (default 8)")
    parser.add_argument("--output", required=True, help="folder for the clips and the sheet")
    parser.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    parser.add_argument("--format", choices=("gif", "mp4", "both"), default="gif")
    parser.add_argument("--fps", type=int, default=8, help="frames per second (default 8)")
    args = parser.parse_args(argv)

    from idcg_tf.errors import UserError

    if args.num < 1:
        raise UserError(f"--num: must be >= 1, got {args.num}")
    if args.fps < 1:
        raise UserError(f"--fps: must be >= 1, got {args.fps}")

    from pathlib import Path

    from idcg_tf.generation import generate_clips, generation_sheet, load_generator, save_clip
    from idcg_tf.visualize import save_png, to_uint8

    cfg, generator, step = load_generator(args.workdir, args.step)
    clips = generate_clips(generator, args.num, args.seed)
    out = Path(args.output)
    suffixes = ("gif", "mp4") if args.format == "both" else (args.format,)
    for i, clip in enumerate(to_uint8(clips)):
        for suffix in suffixes:
            save_clip(out / f"clip_{i:03d}.{suffix}", clip, fps=args.fps)
    save_png(out / "sheet.png", generation_sheet(clips))
    print(
        f"{args.num} clips ({', '.join(suffixes)}) and sheet.png in {out} "
        f"({cfg.task.model.generator}, step {step}, seed {args.seed})"
    )
    return 0


cli = console_script(main)  # the `idcg-generate` console script
