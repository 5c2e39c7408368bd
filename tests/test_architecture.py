"""The structure the code keeps: one-way layers (bench -> engines -> mldrnet), short functions, a CLI that starts
without torch, and the formats table as the one place that names engine formats."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {"mldrnet": 0, "engines": 1, "bench": 2}
MAX_FUNCTION_LINES = 60


def _modules():
    for package in LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield package, path, ast.parse(path.read_text(), str(path))


def _imported(node) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return [node.module]
    return []


def test_dependencies_run_one_way():
    upward = [f"{path.relative_to(ROOT)}:{node.lineno} imports {name}"
              for package, path, tree in _modules() for node in ast.walk(tree) for name in _imported(node)
              if LAYERS.get(name.split(".")[0], -1) > LAYERS[package]]
    assert upward == []


def test_no_function_is_longer_than_60_lines():
    long = [f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for _, path, tree in _modules() for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert long == []


def test_every_package_says_what_it_holds_and_may_import():
    for package in LAYERS:
        doc = ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text())) or ""
        assert "import" in doc, f"{package}/__init__.py: say what it may import"


def test_help_and_argument_errors_do_not_import_torch():
    code = ("import sys\nfrom bench.cli import main\nsys.argv = ['bench', '-h']\ntry:\n    main()\n"
            "except SystemExit:\n    pass\nprint('heavy:', sorted(m for m in ('torch', 'torchvision', 'onnxruntime', "
            "'onnx', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert "heavy: []" in out.stdout, out.stdout + out.stderr
    for args in (["train", "-h"], ["compare", "--bogus"], ["export", "--to", "tflite"], ["--version"]):
        code = (f"import sys\nfrom bench.cli import main\nsys.argv = ['bench', *{args!r}]\ntry:\n    main()\n"
                "except SystemExit:\n    pass\nprint('torch loaded:', 'torch' in sys.modules)")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
        assert "torch loaded: False" in out.stdout, (args, out.stdout + out.stderr)


def test_formats_table_is_what_engines_and_cli_offer():
    from bench.cli import engines as cli
    from bench.variants import VARIANTS
    from engines import formats
    from engines.base import ENGINES, engine_class, engine_names

    engines = list(dict.fromkeys(f.engine for f in formats.FORMATS))  # one engine may load several formats
    assert engine_names() == engines
    for fmt in formats.FORMATS:
        assert engine_class(fmt.engine) is ENGINES[fmt.engine]  # the row's module registers the row's engine
        if fmt.exporter:
            assert callable(fmt.exporter_function())
            assert set(fmt.export_precisions) <= set(fmt.precisions)
    assert [e.value for e in cli.ExportTo] == [f.name for f in formats.exportable()]
    assert [e.value for e in cli.EngineName] == engines
    assert {p.value for p in cli.Precision} == {p for f in formats.FORMATS for p in f.precisions}
    for v in VARIANTS:  # every compare variant is a row of the table, at a precision and device it offers
        fmt = formats.get(v.format)
        assert v.precision in fmt.precisions and v.device in fmt.devices and v.engine == fmt.engine
    with pytest.raises(Exception, match="unknown format"):
        formats.get("tflite")


def test_zoo_hooks_order_training_without_naming_models_in_the_loop():
    from mldrnet import zoo

    assert zoo.training_order(["alexnet-svm", "mldrnet", "alexnet", "mldrnet"]) == ["alexnet", "alexnet-svm", "mldrnet"]
    assert zoo.training_order(["alexnet-svm"]) == ["alexnet-svm"]  # without alexnet in the list: from scratch
    source = (ROOT / "mldrnet" / "train.py").read_text()
    assert not any(f'"{name}"' in source for name in zoo.names())
