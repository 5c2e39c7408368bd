"""`bench features NAME IMAGE...`: the hand-crafted features of image files, named by group
(mldrnet.baselines.features)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from bench.cli.console import error, print_table
from bench.cli.options import choices
from mldrnet.errors import BenchError

# spelled out, not read from mldrnet.baselines.features (which imports numpy): `bench -h` stays light; a test checks
# they agree
METHODS = ("machajdik", "zhao", "rao")
Method = choices("Method", METHODS)


def features(
    name: Annotated[Method, typer.Argument(help="Feature method: machajdik, zhao or rao.")],
    images: Annotated[list[Path], typer.Argument(help="Image files.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Print the hand-crafted features of each image, named by group (the paper's non-CNN baselines)."""
    from bench.cli.tables import features_table
    from mldrnet.baselines.features import extract_file

    results, failed = {}, 0
    for path in images:
        try:
            results[str(path)] = extract_file(name.value, path)
        except BenchError as e:
            error(str(e))
            failed += 1
    if as_json:
        print(json.dumps({"method": name.value, "images": results}, indent=1, allow_nan=False))
    else:
        for path, groups in results.items():
            print_table(features_table(name.value, path, groups))
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("features")(features)
