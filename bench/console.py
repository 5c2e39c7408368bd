"""The rich consoles every command prints through: tables to stdout, warnings and errors to stderr.

Messages are escaped: they are plain text (paths, `pip install 'pkg[extra]'`), not rich markup."""

from rich.console import Console
from rich.markup import escape

out = Console()
err = Console(stderr=True)


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/] {escape(message)}", highlight=False)


def error(message: str) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
