#!/usr/bin/env python
"""The `idcg-app` tool, run from a clone; its code is idcg_tf/cli/app.py."""

# main too: tests load this file and call main(argv) in their own process.
from idcg_tf.cli.app import cli, main  # noqa: F401

if __name__ == "__main__":
    cli()
