"""The one exception type for bad input the user can fix.

Library code raises `BenchError` with a one-line message (what went wrong, where, what to do); the CLI
prints it as one red line on stderr and exits 1. Anything else is a bug and keeps its traceback.
"""


class BenchError(Exception):
    """A user-facing error: the message is shown as is, without a traceback."""
