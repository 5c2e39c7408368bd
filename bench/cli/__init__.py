"""The `bench` command line: parses, makes one library call, renders. May import anything; nothing imports it.

Each area registers its commands from its own module (`bench/cli/<area>.py`, a `register(app)` function), so
this file stays an index. Command modules import torch, torchvision and the engines inside the commands that
need them: `bench -h`, `--version` and argument errors answer without loading them. The options several commands
share are defined once in bench.cli.options; the tables every command prints are bench.cli.tables'. Errors the
user can fix are `BenchError`s: one red line on stderr, exit 1; `--debug` (or BENCH_DEBUG=1) shows the traceback
instead.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from bench import __version__
from bench.cli import console
from bench.cli.console import error, out, print_table, route_library_logs, session
from bench.cli.options import MAX_CROP, MIN_CROP, PlainHelpGroup
from mldrnet.errors import BenchError

app = typer.Typer(
    name="bench",
    help="Train, export, accelerate and compare image emotion classifiers (MldrNet and its baselines).",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish and PowerShell
    rich_markup_mode="rich",
    cls=PlainHelpGroup,  # help texts are plain text: brackets such as "[default: ...]" are shown, not parsed
)


def _version(value: bool) -> None:
    if value:
        out.print(f"bench {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool | None, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks on errors.", envvar="BENCH_DEBUG")
    ] = False,
) -> None:
    """bench: image emotion classification benchmark harness. Outputs go under ./results (see --results-dir)."""
    session.debug = debug
    route_library_logs(debug)


@app.command()
def models(
    size: Annotated[
        int,
        typer.Option("--size", min=MIN_CROP, max=MAX_CROP, help="Input size in pixels for GFLOPs and output shape."),
    ] = 375,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List every model the harness knows, with parameters, GFLOPs per image and the paper's FI accuracy."""
    from bench.cli.tables import models_table
    from bench.models import model_rows

    rows = model_rows(size)
    if as_json:
        print(json.dumps([r.to_dict() for r in rows], indent=2))
    else:
        print_table(models_table(rows, size))


def _register_commands() -> None:
    # Each area's commands live in their own module; imported here so `bench -h` lists them (none imports torch).
    from bench.cli import compare, data, doctor, engines, features, mlperf, report, reproduce, train, tune

    for module in (data, train, tune, engines, features, compare, report, mlperf, reproduce, doctor):
        module.register(app)


def main() -> None:
    try:
        _register_commands()
        app()
    except BenchError as e:
        if session.debug:
            raise
        error(str(e))
        sys.exit(1)
    except KeyboardInterrupt:  # outside a command (Typer handles those: below)
        error("interrupted")
        sys.exit(console.INTERRUPTED_EXIT)
    except SystemExit as e:
        # Typer turns Ctrl-C inside a command into a silent SystemExit(130): name it, unless the command did
        if e.code == console.INTERRUPTED_EXIT and not console.interrupt_reported:
            error("interrupted")
        raise
