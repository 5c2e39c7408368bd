"""The one exception type for bad input the user can fix, and the one way a failure becomes a line of text.

Library code raises `BenchError` with a one-line message (what went wrong, where, what to do); the CLI
prints it as one red line on stderr and exits 1. Anything else is a bug and keeps its traceback. A result row
that failed (a training, an export, a compare row, a prediction) carries `error: str | None`, made by
`one_line`, so every table and file reports failures the same way.
"""


class BenchError(Exception):
    """A user-facing error: the message is shown as is, without a traceback."""


# torch's weights-only refusal advises re-running torch.load with weights_only=False (arbitrary code execution):
# bench never suggests disabling safe loading, whichever library message reaches a user
SAFE_LOAD_REASON = "the file holds pickled Python objects or is damaged (bench loads weights only, never code)"


def without_unsafe_advice(message: str) -> str:
    """`message` cut before any text that mentions weights_only and False (torch's advice to load unsafely)."""
    at = message.find("weights_only")
    if at < 0 or "False" not in message[at:]:
        return message
    torch_text = message.find("Weights only load failed")
    if 0 <= torch_text < at:
        at = torch_text
    else:  # from the start of the sentence or clause that holds the advice
        at = max(message.rfind(": ", 0, at) + 2, message.rfind(". ", 0, at) + 2, 0)
    return message[:at] + SAFE_LOAD_REASON


def first_line(e: BaseException) -> str:
    """The first line of an exception's text, never repeating torch's advice to load unsafely."""
    text = without_unsafe_advice(str(e).strip())
    return text.splitlines()[0] if text else ""


ELLIPSIS = " … "  # where an over-long message lost its middle
MIN_WHAT = 40  # characters of the "what" part kept when a message is cut before its fix


def middle_cut(text: str, limit: int) -> str:
    """`text` in at most `limit` characters: its start (what went wrong) and its end (where, or the command to
    run), the middle replaced by an ellipsis."""
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return text[:limit]
    keep = limit - len(ELLIPSIS)
    head = (keep + 1) // 2
    return text[:head] + ELLIPSIS + text[len(text) - (keep - head) :]


def shorten(message: str, limit: int = 300) -> str:
    """`message` in at most `limit` characters, cut where it loses least. Messages read "what went wrong, where:
    what to do"; the fix is the text after the last ": " and is what the user acts on (a command, a pip line), so
    the cut falls in the middle of the part before it. A fix too long to leave room for the what (or a message
    without one) loses its middle instead, keeping both ends."""
    if len(message) <= limit:
        return message
    what, sep, fix = message.rpartition(": ")
    if sep and what and len(fix) + len(sep) + MIN_WHAT <= limit:
        return middle_cut(what, limit - len(sep) - len(fix)) + sep + fix
    return middle_cut(message, limit)


def one_line(e: BaseException, limit: int = 300) -> str:
    """A failure as one line: a BenchError's own message; anything else prefixed with its type (a bug or an
    environment problem: out of memory, a crash inside an engine). Longer than `limit`: cut in the middle of what
    went wrong, never inside the fix (`shorten`)."""
    text = first_line(e)
    msg = text if isinstance(e, BenchError) else f"{type(e).__name__}: {text}".rstrip(": ")
    return shorten(msg, limit)
