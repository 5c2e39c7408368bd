"""The `bench` command line: a Typer app whose commands are thin wrappers over library functions.

Each area registers its commands from its own module (`bench/cmd_*.py`, a `register(app)` function), so
this file stays an index. Errors the user can fix are `BenchError`s: one red line on stderr, exit 1; `--debug`
(or BENCH_DEBUG=1) shows the traceback instead.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated, Optional

import typer
from rich.table import Table

from bench import __version__
from bench.console import error, out
from mldrnet.errors import BenchError

app = typer.Typer(
    name="bench",
    help="Train, export, accelerate and compare image emotion classifiers (MldrNet and its baselines).",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        out.print(f"bench {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
) -> None:
    """bench: image emotion classification benchmark harness. Outputs go under ./results (see --results-dir)."""


@app.command()
def models(
    size: Annotated[int, typer.Option("--size", min=32, max=1024, help="Input size in pixels for GFLOPs and output shape.")] = 375,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List every model the harness knows, with parameters, GFLOPs per image and the paper's FI accuracy."""
    from bench.models import model_rows

    rows = model_rows(size)
    if as_json:
        print(json.dumps([r.to_dict() for r in rows], indent=2))
        return
    table = Table(title=f"Model zoo (input {size}x{size})")
    for col, justify in [("model", "left"), ("family", "left"), ("params (M)", "right"), ("GFLOPs", "right"),
                         ("output", "right"), ("paper FI acc %", "right"), ("description", "left")]:
        table.add_column(col, justify=justify)
    for r in rows:
        acc = "-" if r.paper_fi_accuracy is None else f"{r.paper_fi_accuracy:.2f}"
        table.add_row(r.name, r.family, f"{r.params / 1e6:.2f}", f"{r.gflops:.2f}", str(tuple(r.output_shape)), acc,
                      r.description)
    out.print(table)


def _register_commands() -> None:
    # Each area's commands live beside the library code they wrap; imported here so `bench -h` lists them.
    from bench import cmd_compare, cmd_data, cmd_engines, cmd_train

    for module in (cmd_data, cmd_train, cmd_engines, cmd_compare):
        module.register(app)


def main() -> None:
    debug = "--debug" in sys.argv[1:] or os.environ.get("BENCH_DEBUG") == "1"
    try:
        _register_commands()
        app()
    except BenchError as e:
        if debug:
            raise
        error(str(e))
        sys.exit(1)
    except KeyboardInterrupt:
        error("interrupted")
        sys.exit(130)
