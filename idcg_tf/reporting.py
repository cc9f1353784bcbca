"""What translation and generation evaluations write the same way: run names, markdown tables,
progress lines."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from pathlib import Path


def run_names(workdirs: Sequence[str | Path]) -> list[str]:
    """Each run's folder name, or the paths as given where two folder names repeat."""
    names = [Path(w).resolve().name for w in workdirs]
    return names if len(set(names)) == len(names) else [str(w) for w in workdirs]


def markdown_table(head: Sequence[str], rows: Iterable[Sequence]) -> list[str]:
    """The lines of a markdown table: `head`, its rule, then one line per row of cells."""
    line = lambda cells: "| " + " | ".join(str(c) for c in cells) + " |"  # noqa: E731
    return [line(head), "|" + "---|" * len(head)] + [line(row) for row in rows]


def log_to_stderr(line: str) -> None:
    """The default progress log of the evaluation tools."""
    print(line, file=sys.stderr, flush=True)
