"""The structure the code keeps: one-way layers (bench -> engines -> mldrnet, and inside mldrnet errors < io < data
< baselines < models < training < evaluation), no import cycle anywhere, short functions, a CLI that starts without
torch, and the formats table as the one place that names engine formats."""

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {"mldrnet": 0, "engines": 1, "bench": 2}
MAX_FUNCTION_LINES = 60


def _modules():
    for package in LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield package, path, ast.parse(path.read_text(), str(path))


# the concerns inside mldrnet, bottom first: a module may import its own concern and the ones before it. The
# checkpoint file format sits between data (its preprocessing) and the models that load it.
MLDRNET_LAYERS = ("errors", "io", "data", "checkpoint", "baselines", "models", "training", "evaluation")


def _imported(node) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return [node.module]
    return []


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(tree: ast.AST) -> set[int]:
    """Line numbers of imports under `if TYPE_CHECKING:` (types only: they never run)."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", None)) == "TYPE_CHECKING":
            lines |= {
                n.lineno for child in node.body for n in ast.walk(child) if isinstance(n, (ast.Import, ast.ImportFrom))
            }
    return lines


def _import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports, at run time (module level or inside functions). `from pkg import
    name` counts as an import of the submodule pkg.name where there is one, else of pkg itself."""
    trees = {_module_name(path): tree for _, path, tree in _modules()}
    graph: dict[str, set[str]] = defaultdict(set)
    for module, tree in trees.items():
        skip = _type_checking_only(tree)
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)) or node.lineno in skip:
                continue
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif node.level or not node.module:
                continue
            else:
                targets = [
                    f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in trees else node.module for a in node.names
                ]
            graph[module] |= {t for t in targets if t in trees and t != module}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected set of more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def test_dependencies_run_one_way():
    upward = [
        f"{path.relative_to(ROOT)}:{node.lineno} imports {name}"
        for package, path, tree in _modules()
        for node in ast.walk(tree)
        for name in _imported(node)
        if LAYERS.get(name.split(".")[0], -1) > LAYERS[package]
    ]
    assert upward == []


def test_no_import_cycle_anywhere():
    assert _cycles(_import_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _concern(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "mldrnet" or len(parts) < 2:
        return None  # mldrnet/__init__.py (EMOTIONS) is below everything
    return MLDRNET_LAYERS.index(parts[1]) if parts[1] in MLDRNET_LAYERS else None


def test_mldrnet_concerns_import_only_downward():
    assert {p.name for p in (ROOT / "mldrnet").iterdir() if p.suffix == ".py" or (p / "__init__.py").is_file()} == {
        "__init__.py",
        *(f"{c}.py" for c in ("errors", "checkpoint")),
        *(c for c in MLDRNET_LAYERS if c not in ("errors", "checkpoint")),
    }
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in _import_graph().items()
        for target in targets
        if (_concern(module) is not None and _concern(target) is not None and _concern(target) > _concern(module))
    )
    assert upward == []


def _body_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of a function's body, its signature and docstring left out: ruff format puts every Typer option of a
    command on a line of its own, and a long declarative signature is not a long function."""
    body = node.body
    if len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        body = body[1:]
    return (node.end_lineno or node.lineno) - body[0].lineno + 1


def test_no_function_body_is_longer_than_60_lines():
    long = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({_body_lines(node)} lines)"
        for _, path, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _body_lines(node) > MAX_FUNCTION_LINES
    ]
    assert long == []


def test_every_package_says_what_it_holds_and_may_import():
    for package in LAYERS:
        doc = ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text())) or ""
        assert "import" in doc, f"{package}/__init__.py: say what it may import"


def test_help_and_argument_errors_do_not_import_torch():
    code = (
        "import sys\nfrom bench.cli import main\nsys.argv = ['bench', '-h']\ntry:\n    main()\n"
        "except SystemExit:\n    pass\nprint('heavy:', sorted(m for m in ('torch', 'torchvision', 'onnxruntime', "
        "'onnx', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert "heavy: []" in out.stdout, out.stdout + out.stderr
    for args in (["train", "-h"], ["compare", "--bogus"], ["export", "--to", "tflite"], ["--version"]):
        code = (
            f"import sys\nfrom bench.cli import main\nsys.argv = ['bench', *{args!r}]\ntry:\n    main()\n"
            "except SystemExit:\n    pass\nprint('torch loaded:', 'torch' in sys.modules)"
        )
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


def test_training_hooks_order_training_without_naming_models_in_the_loop():
    from mldrnet import models
    from mldrnet.training.hooks import training_order

    assert training_order(["alexnet-svm", "mldrnet", "alexnet", "mldrnet"]) == ["alexnet", "alexnet-svm", "mldrnet"]
    assert training_order(["alexnet-svm"]) == ["alexnet-svm"]  # without alexnet in the list: from scratch
    source = (ROOT / "mldrnet" / "training" / "loop.py").read_text()
    assert not any(f'"{name}"' in source for name in models.names())


def test_the_model_registry_imports_no_model():
    graph = _import_graph()
    assert graph["mldrnet.models.registry"] <= {"mldrnet.errors"}
