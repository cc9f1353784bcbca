"""Writing files so that a reader (or a run killed half-way) never sees half of one."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomically(
    path: str | os.PathLike, data: bytes | str, temporary: str | os.PathLike | None = None
) -> None:
    """Writes `data` to `temporary` (default `<name>.tmp-<pid>` beside `path`), syncs it to
    disk and renames it over `path`: the file is either the old one or the whole new one."""
    path = Path(path)
    tmp = Path(temporary) if temporary else path.with_name(f"{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
