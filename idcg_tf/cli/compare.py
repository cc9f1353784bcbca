"""Measure Model1, Model2 and Model3 against each other (paper Table 1, Fig. 6).

    idcg-compare --config demo --output runs/compare \
        [--samples 1000] [--results docs/results.md] [--set trainer.steps=...]

Trains the three variants with the config's recipe and seed (finished runs are skipped),
evaluates them as `idcg-evaluate --compare`, plots their training-time identity score
curves and writes the results page (default OUTPUT/results.md).
"""

from __future__ import annotations

import argparse

from idcg_tf.cli import add_overrides, console_script


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="the recipe (e.g. demo, or a YAML file)")
    parser.add_argument("--output", required=True, help="folder for the runs and evaluation")
    add_overrides(parser, " for all three runs")
    parser.add_argument(
        "--samples",
        type=int,
        default=1000,
        help="test samples per direction (default 1000, as the paper)",
    )
    parser.add_argument("--results", help="results page to write (default OUTPUT/results.md)")
    args = parser.parse_args(argv)

    from idcg_tf import config, config_legacy
    from idcg_tf.errors import UserError

    for key in (o.split("=", 1)[0].strip() for o in args.set):
        if (config_legacy.new_key(key) or key) == "task.variant":
            raise UserError(f"--set {key}: the comparison trains all three variants")
    if args.samples < 1:
        raise UserError("--samples: must be >= 1")
    config.load(args.config, args.set)  # a bad key fails before anything trains
    from idcg_tf.comparison import compare_variants

    compare_variants(args.config, args.output, args.set, samples=args.samples, results=args.results)
    return 0


cli = console_script(main, trains=True)  # the `idcg-compare` console script
