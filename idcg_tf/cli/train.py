"""Train IdCycleGAN (Model1/2/3) from a YAML config.

    idcg-train --config celeb_model1 [--set trainer.steps=100 ...] [--workdir runs/NAME] [--dry-run]

A workdir that already holds checkpoints is resumed where it stopped.
"""

from __future__ import annotations

import argparse

from idcg_tf.cli import add_overrides, console_script


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config",
        required=True,
        help="a shipped config's name (tiny, celeb_model1, ...: see configs/) or a YAML file",
    )
    add_overrides(parser)
    parser.add_argument("--workdir", help="run directory (default: runs/<config name>)")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the resolved config and the networks, then exit",
    )
    args = parser.parse_args(argv)

    from idcg_tf import config, configs

    cfg = config.load(args.config, args.set)  # before TensorFlow loads: config errors are quick
    from idcg_tf import experiment

    workdir = args.workdir or experiment.default_workdir(args.config)
    if args.dry_run:
        print(f"# resolved config ({configs.locate(args.config)}); workdir {workdir}")
        print(cfg.to_yaml())
        print(experiment.describe_networks(cfg))
        return 0
    experiment.train(cfg, workdir)
    return 0


cli = console_script(main, trains=True)  # the `idcg-train` console script
