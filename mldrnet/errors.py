"""The one exception type for bad input the user can fix, and the one way a failure becomes a line of text.

Library code raises `BenchError` with a one-line message (what went wrong, where, what to do); the CLI
prints it as one red line on stderr and exits 1. Anything else is a bug and keeps its traceback. A result row
that failed (a training, an export, a compare row, a prediction) carries `error: str | None`, made by
`one_line`, so every table and file reports failures the same way.
"""


class BenchError(Exception):
    """A user-facing error: the message is shown as is, without a traceback."""


def one_line(e: BaseException, limit: int = 300) -> str:
    """A failure as one line: a BenchError's own message; anything else prefixed with its type (a bug or an
    environment problem: out of memory, a crash inside an engine)."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    msg = text if isinstance(e, BenchError) else f"{type(e).__name__}: {text}".rstrip(": ")
    return msg[:limit]
