"""The command-line tools, one module each: argument parsing and main(), over the library.

Each runs as a console script (`idcg-train` = `train.cli`) and, in a clone, as
`python tools/train.py`. What they share lives here: user errors as one line and exit status 2 (preemption: one line, status 75),
quiet TensorFlow logs. Modules here import no TensorFlow at the top: the log filter comes first.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable


def quiet_tensorflow() -> None:
    """Hides TensorFlow's start-up chatter (before TensorFlow is imported): the C++ log level for
    what honours it, and the fd-level filter of `idcg_tf.console` for what is printed before
    absl's logging starts. Real warnings and errors still show."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from idcg_tf import console

    console.install()


def add_overrides(parser: argparse.ArgumentParser, scope: str = "") -> None:
    """The repeatable `--set section.key=value` of the tools that load a config."""
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help=f"override one config value{scope} (repeatable)",
    )


def run_tool(
    main: Callable[[list[str] | None], int | None],
    trains: bool | Callable[[list[str]], bool] = False,
) -> None:
    """Runs a tool's main; a UserError is printed as one line and exits with status 2, a run
    stopped by its environment (`Stopped`: preemption) as one line with its own status. A tool
    that `trains` (or whose arguments make `trains(args)` true) first starts itself again under
    jemalloc where the system has it (`idcg_tf.allocator`)."""
    from idcg_tf.errors import Stopped, UserError

    try:
        if trains(sys.argv[1:]) if callable(trains) else trains:
            from idcg_tf import allocator

            allocator.relaunch_with_jemalloc()
        quiet_tensorflow()
        code = main(None)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except Stopped as exc:
        print(str(exc), file=sys.stderr, flush=True)
        sys.exit(exc.exit_status)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:  # output piped into `head` and the like: not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)
    sys.exit(code or 0)


def console_script(
    main: Callable[[list[str] | None], int | None],
    trains: bool | Callable[[list[str]], bool] = False,
) -> Callable[[], None]:
    """The entry point of a tool (`idcg-train = idcg_tf.cli.train:cli`): `run_tool(main)`."""
    return functools.partial(run_tool, main, trains=trains)
