"""Memory the process holds and no longer uses, handed back to the system.

`release_library_pages`: the pages of TensorFlow's own libraries that its import touched.

Importing TensorFlow runs the static initialisers of its 1.1 GB `libtensorflow_cc` and of
`libtensorflow_framework` (op, kernel and protobuf registration, spread over the whole
library); the kernel maps each touched page, and 64 KiB around it, into the process, where
they count as resident memory for the process's life. The training iteration afterwards runs
a small part of that code. `release_library_pages` unmaps the read-only, never-written pages of
those libraries (`madvise(MADV_DONTNEED)`): the memory stays in the page cache and a page the
process needs again comes back from it on first use (a minor fault), as after any reclaim.
Pages the process wrote (relocations) and writable mappings are left alone.

`trim_heap`: the first run of a traced function builds and optimises its graph (Grappler) in
the C heap; what that frees stays resident in the heap's holes, and later allocations spread
over fresh pages around them. glibc's `malloc_trim` returns the free pages to the system.
"""

from __future__ import annotations

import ctypes
import os
import re
from pathlib import Path

_MADV_DONTNEED = 4
_HEADER = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$")


def _mappings(smaps: str):
    """(start, end, permissions, path, {field: kB}) per mapping of an smaps text."""
    current = None
    for line in smaps.splitlines():
        header = _HEADER.match(line)
        if header:
            if current:
                yield current
            start, end, perms, path = header.groups()
            current = (int(start, 16), int(end, 16), perms, path, {})
        elif current and line.endswith(" kB"):
            key, value = line.split(":", 1)
            current[4][key] = int(value.split()[0])
    if current:
        yield current


def releasable(perms: str, path: str, fields: dict, directory: str) -> bool:
    """A private, read-only mapping of a file under `directory` that holds no page of its own
    (no copy-on-write copy, nothing locked): dropping its pages loses nothing."""
    return (
        path.startswith(directory + os.sep)
        and perms[1] == "-"  # never writable
        and perms[3] == "p"
        and fields.get("Anonymous", 0) == 0
        and fields.get("Locked", 0) == 0
        and fields.get("Rss", 0) > 0
    )


_released = False


def release_library_pages() -> int:
    """Unmaps the resident read-only pages of the shared libraries of the installed
    `tensorflow` package, once per process: later calls would only drop code in use. Returns
    the bytes released (0 on a later call, and where /proc/self/smaps or madvise is missing:
    not Linux)."""
    global _released
    if _released:
        return 0
    _released = True
    import tensorflow as tf

    directory = str(Path(tf.__file__).resolve().parent)
    try:
        smaps = Path("/proc/self/smaps").read_text()
        libc = ctypes.CDLL(None, use_errno=True)
        madvise = libc.madvise
    except (OSError, AttributeError):
        return 0
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    released = 0
    for start, end, perms, path, fields in _mappings(smaps):
        if releasable(perms, path, fields, directory):
            if madvise(start, end - start, _MADV_DONTNEED) == 0:
                released += fields["Rss"] * 1024
    return released


def trim_heap() -> None:
    """Returns the C heap's free pages to the system (glibc's `malloc_trim(0)`, a few
    milliseconds); nothing where the C library has no `malloc_trim` (not glibc)."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass
