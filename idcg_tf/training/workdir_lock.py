"""One training run per workdir: a lock file naming the host and process that holds it."""

from __future__ import annotations

import atexit
import json
import os
import socket
from pathlib import Path

from idcg_tf.errors import UserError

LOCK_NAME = ".train.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


class WorkdirLock:
    """Holds `<workdir>/.train.lock` while a run trains; `acquire` refuses a workdir locked by a
    live process with a one-line UserError naming it (host, pid), and takes over the lock of a
    dead process on this host with a warning. A lock from another host cannot be checked
    and is refused: delete the file if that run is known to be gone.

    The file is created with O_EXCL, so of two trainers started together exactly one wins.
    """

    def __init__(self, workdir: str | os.PathLike, warn=None):
        self.path = Path(workdir) / LOCK_NAME
        self.warn = warn or (lambda line: None)
        self.held = False
        self.me = {"host": socket.gethostname(), "pid": os.getpid()}

    def _create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(self.me) + "\n")
        return True

    def __enter__(self) -> WorkdirLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def acquire(self) -> None:
        if self.held:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):  # a lock removed between our two looks: try again
            if self._create():
                self.held = True
                # A process that never calls release (killed by an exception it does not
                # catch) still leaves no lock behind.
                atexit.register(self.release)
                return
            try:
                other = json.loads(self.path.read_text())
                host, pid = str(other["host"]), int(other["pid"])
            except FileNotFoundError:
                continue
            except (ValueError, KeyError, TypeError):
                raise UserError(
                    f"{self.path}: unreadable lock file; if no run uses this workdir, delete it"
                ) from None
            if (host, pid) == (self.me["host"], self.me["pid"]):
                return  # this process already holds it (a second Trainer in one process)
            if host == self.me["host"] and not _alive(pid):
                self.warn(
                    f"{self.path}: taking over the lock of process {pid} on {host}, which is gone"
                )
                self.path.unlink(missing_ok=True)
                continue
            raise UserError(
                f"{self.path.parent}: another training run uses this workdir "
                f"(host {host}, pid {pid}); wait for it, or use another --workdir"
            )
        raise UserError(f"{self.path}: could not take the lock; try again")

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False
            atexit.unregister(self.release)
