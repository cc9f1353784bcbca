"""The one exception class for user errors (bad config, bad paths, bad input files).

Tools catch it, print its message on one line and exit with status 2; everything else is a bug
and keeps its traceback.
"""


class UserError(Exception):
    """A mistake in what the user asked for; the message names the file or key at fault."""


class ConfigError(UserError):
    """An invalid configuration value; the message names the dotted key."""


class Stopped(Exception):
    """A run stopped early by its environment (not a mistake, not a bug): tools print the
    message on one line and exit with `exit_status`."""

    exit_status = 1


class Preempted(Stopped):
    """Training received SIGTERM (a preemptible VM, a Kubernetes eviction, a SLURM time limit),
    wrote a checkpoint of its current step and stopped; the same command resumes it."""

    exit_status = 75  # EX_TEMPFAIL (sysexits.h): a temporary failure, try again
