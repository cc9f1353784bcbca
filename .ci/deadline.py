"""Runs a command with a deadline, far below CI's own: `python3 .ci/deadline.py SECONDS CMD...`.

Past the deadline it prints every thread's native stack of each process of the command (gdb,
when installed), then sends SIGABRT to them all, on which Python's faulthandler (enabled here
through PYTHONFAULTHANDLER) prints every Python thread's stack; then kills what is left and
exits 124. Otherwise it exits with the command's status. Standard library only: it runs before
any environment is installed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time


def group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == pgid:
                    pids.append(int(entry))
            except ProcessLookupError:
                pass
    return sorted(pids)


def native_stacks(pid: int) -> None:
    gdb = shutil.which("gdb")
    if not gdb:
        return
    try:
        subprocess.run(
            [
                gdb,
                "-p",
                str(pid),
                "-batch",
                "-nx",
                "-iex",
                "set auto-load off",
                "-ex",
                "thread apply all bt 30",
            ],
            stdin=subprocess.DEVNULL,
            timeout=120,
            check=False,
        )
    except subprocess.TimeoutExpired:
        print(f"deadline: gdb on {pid} took over 120 s", flush=True)


def main() -> int:
    seconds, command = float(sys.argv[1]), sys.argv[2:]
    env = dict(os.environ, PYTHONFAULTHANDLER="1")
    proc = subprocess.Popen(command, env=env, start_new_session=True)
    try:
        return proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pass
    pgid = proc.pid  # start_new_session: the command leads its own group
    print(
        f"\ndeadline: `{' '.join(command)}` still running after {seconds:.0f} s; "
        "every thread's stack follows, then it is stopped",
        flush=True,
    )
    for pid in group_pids(pgid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        print(f"\ndeadline: process {pid}: {cmdline}", flush=True)
        native_stacks(pid)
    try:
        os.killpg(pgid, signal.SIGABRT)
        time.sleep(20)
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    return 124


if __name__ == "__main__":
    sys.exit(main())
