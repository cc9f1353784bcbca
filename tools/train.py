#!/usr/bin/env python
"""Train IdCycleGAN (Model1/2/3) from a YAML config.

    python tools/train.py --config configs/celeb_model1.yaml [--set train.steps=100 ...]
        [--workdir runs/NAME] [--dry-run]

A workdir that already holds checkpoints is resumed where it stopped.
"""

from __future__ import annotations

import argparse

from idcg_tf.cli import run_tool


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="YAML config (see configs/)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one config value (repeatable)")
    parser.add_argument("--workdir", help="run directory (default: runs/<config name>)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the resolved config and the networks, then exit")
    args = parser.parse_args(argv)

    from idcg_tf import config

    cfg = config.load(args.config, args.set)  # before TensorFlow loads: config errors are quick
    from idcg_tf import experiment as run

    workdir = args.workdir or run.default_workdir(args.config)
    if args.dry_run:
        print(f"# resolved config ({args.config}); workdir {workdir}")
        print(cfg.to_yaml())
        print(run.describe_networks(cfg))
        return 0
    run.train(cfg, workdir)
    return 0


if __name__ == "__main__":
    run_tool(main)
