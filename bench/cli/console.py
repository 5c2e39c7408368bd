"""How the CLI prints: tables to stdout, progress, warnings and errors to stderr; library logs routed here.

Messages are escaped: they are plain text (paths, `pip install 'pkg[extra]'`), not rich markup. Control
characters never reach a terminal or a log, whoever wrote the text (a file name, a checkpoint's class names, a
records.json's model or error field): `escape` and `shown` turn every C0/C1 control character (ESC above all)
and every byte that was not UTF-8 into a visible \\xNN, and every console of the CLI (ours, and Typer's for
usage errors) strips any that is left from what it renders (`guard`), so `ESC[2J` cannot clear the screen nor
`ESC]0;` set the window title. When a stream
is not a terminal (a CI log, `| tee`), nothing is wrapped at 80 columns: lines are soft-wrapped (printed whole)
and tables are drawn at their natural width, so a log keeps one line per epoch and per row and `grep` finds
whole names.
"""

from __future__ import annotations

import logging
import os
import re
import types
from dataclasses import dataclass

from rich import markup
from rich.console import Console
from rich.segment import Segment

from bench.text import shown
from mldrnet.errors import without_unsafe_advice

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # stripped from whatever is rendered


def escape(text: object) -> str:
    """rich.markup.escape of `shown(text)`: the one helper every dynamic string of a table or message goes through
    (names, paths, error messages are text: `pip install 'pkg[gpu]'` is not a style tag, ESC is not a command)."""
    return markup.escape(shown(text))


def _render_without_controls(self: Console, renderable, options=None):
    """Console.render, with any control character left in a text segment stripped (rich's own control segments,
    such as a progress bar's cursor moves, are kept): the last line of defence for text that skipped `escape`."""
    for segment in Console.render(self, renderable, options):
        if segment.control is None and _CONTROL.search(segment.text):
            yield Segment(_CONTROL.sub("", segment.text), segment.style, segment.control)
        else:
            yield segment


def guard(console: Console) -> Console:
    """`console`, rendering no control character that is not rich's own (see _render_without_controls)."""
    console.render = types.MethodType(_render_without_controls, console)  # type: ignore[method-assign]
    return console


def _guard_typer_consoles() -> None:
    """Typer prints usage errors (which echo the value given) on consoles of its own: guard those too."""
    try:
        from typer import rich_utils
    except ImportError:  # pragma: no cover - Typer without rich
        return
    make = getattr(rich_utils, "_get_rich_console", None)
    if make is None or getattr(make, "guarded", False):
        return

    def guarded_console(*args, **kwargs):
        return guard(make(*args, **kwargs))

    guarded_console.guarded = True  # type: ignore[attr-defined]
    rich_utils._get_rich_console = guarded_console


@dataclass
class Session:
    """What the root options set for the whole invocation (read by `main` when a command fails)."""

    debug: bool = os.environ.get("BENCH_DEBUG") == "1"


session = Session()

WIDE = 400  # columns for a table printed to a log: wide enough that no column of ours is squeezed


def _console(stderr: bool) -> Console:
    probe = Console(stderr=stderr)
    return guard(probe if probe.is_terminal else Console(stderr=stderr, soft_wrap=True, width=WIDE))


out = _console(stderr=False)
err = _console(stderr=True)
_guard_typer_consoles()


def safe_text(message: str) -> str:
    """`message` without torch's advice to load unsafely (mldrnet.errors.without_unsafe_advice) and with its
    control characters shown, not sent (`shown`)."""
    return shown(without_unsafe_advice(str(message)))


def _log() -> bool:
    """A message printed whole on one line (a log: grep finds it), or wrapped at word boundaries (a terminal
    would otherwise cut it mid-word at its edge)."""
    return not err.is_terminal


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/] {markup.escape(safe_text(message))}", highlight=False, soft_wrap=_log())


def error(message: str) -> None:
    err.print(f"[bold red]error:[/] {markup.escape(safe_text(message))}", highlight=False, soft_wrap=_log())


INTERRUPTED_EXIT = 130  # 128 + SIGINT, what a shell reports for Ctrl-C


def interrupted(message: str = "interrupted"):
    """Ctrl-C: the message in red, then exit 130 (Typer would exit 130 silently). Never returns."""
    import typer

    global interrupt_reported
    interrupt_reported = True
    error(message)
    raise typer.Exit(INTERRUPTED_EXIT)


interrupt_reported = False  # set once `interrupted` has said why the exit code is 130


def info(message: str) -> None:
    err.print(safe_text(message), highlight=False, markup=False, soft_wrap=_log())


def print_table(table, console: Console | None = None) -> None:
    """A table at the terminal's width, or in a log at its natural width (no column cut or folded)."""
    console = console or out
    if console.is_terminal:
        console.print(table)
    else:  # shrink the wide log console to the table's own width, so no trailing blanks pad each line
        width = console.measure(table, options=console.options.update(max_width=WIDE)).maximum  # whatever its width
        guard(
            Console(
                file=console.file,
                width=min(max(width, 40), WIDE),
                soft_wrap=True,
                force_terminal=False,
                color_system=None,
            )
        ).print(table)


class _RichHandler(logging.Handler):
    """Library warnings (mldrnet, engines, bench) as the CLI's yellow `warning:` lines; info as plain lines."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            (warn if record.levelno >= logging.WARNING else info)(message)
        except Exception:  # a logging failure must never stop a run
            self.handleError(record)


def route_library_logs(debug: bool = False) -> None:
    """Send the packages' `logging` output through the CLI's console (once per process)."""
    for name in ("mldrnet", "engines", "bench"):
        logger = logging.getLogger(name)
        if not any(isinstance(h, _RichHandler) for h in logger.handlers):
            logger.addHandler(_RichHandler())
        logger.setLevel(logging.DEBUG if debug else logging.INFO)
        logger.propagate = False
