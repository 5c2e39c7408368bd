"""How the CLI prints: tables to stdout, progress, warnings and errors to stderr; library logs routed here.

Messages are escaped: they are plain text (paths, `pip install 'pkg[extra]'`), not rich markup. When a stream
is not a terminal (a CI log, `| tee`), nothing is wrapped at 80 columns: lines are soft-wrapped (printed whole)
and tables are drawn at their natural width, so a log keeps one line per epoch and per row and `grep` finds
whole names.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from rich.console import Console
from rich.markup import escape

from mldrnet.errors import without_unsafe_advice


@dataclass
class Session:
    """What the root options set for the whole invocation (read by `main` when a command fails)."""

    debug: bool = os.environ.get("BENCH_DEBUG") == "1"


session = Session()

WIDE = 400  # columns for a table printed to a log: wide enough that no column of ours is squeezed


def _console(stderr: bool) -> Console:
    probe = Console(stderr=stderr)
    return probe if probe.is_terminal else Console(stderr=stderr, soft_wrap=True, width=WIDE)


out = _console(stderr=False)
err = _console(stderr=True)


def safe_text(message: str) -> str:
    """`message` without torch's advice to load unsafely (mldrnet.errors.without_unsafe_advice)."""
    return without_unsafe_advice(message)


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/] {escape(safe_text(message))}", highlight=False, soft_wrap=True)


def error(message: str) -> None:
    err.print(f"[bold red]error:[/] {escape(safe_text(message))}", highlight=False, soft_wrap=True)


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
    err.print(safe_text(message), highlight=False, markup=False, soft_wrap=True)


def print_table(table, console: Console | None = None) -> None:
    """A table at the terminal's width, or in a log at its natural width (no column cut or folded)."""
    console = console or out
    if console.is_terminal:
        console.print(table)
    else:  # shrink the wide log console to the table's own width, so no trailing blanks pad each line
        width = console.measure(table).maximum
        Console(
            file=console.file, width=min(max(width, 40), WIDE), soft_wrap=True, force_terminal=False, color_system=None
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
