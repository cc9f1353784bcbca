"""The one exception class for user errors (bad config, bad paths, bad input files).

Tools catch it, print its message on one line and exit with status 2; everything else is a bug
and keeps its traceback.
"""


class UserError(Exception):
    """A mistake in what the user asked for; the message names the file or key at fault."""


class ConfigError(UserError):
    """An invalid configuration value; the message names the dotted key."""
