"""The tables a person reads, at 80 and 100 columns: compare's compact records and scenarios tables, `bench models`
and `bench predict` keep every cell that tells rows apart whole (no "…"), a log names the model on every row,
the best value carries a character, `--columns` and `--wide` choose the columns. Rendered from fixed records."""

import io

import pytest
from rich.console import Console

from bench.cli.console import print_table
from bench.cli.tables import (
    COMPACT,
    check_columns,
    models_table,
    predict_table,
    records_table,
    scenarios_table,
    short_paths,
    train_table,
)
from bench.records import CompareRun, Record
from mldrnet.errors import BenchError

# the standard set: five models x every CPU engine and precision x two batch sizes, one failed row
MODELS = {"mldrnet": 91.39, "alexnet": 88.12, "alexnet-svm": 87.5, "vgg19": 24.17, "resnet101": 24.17}
SIZES = {"mldrnet": 64, "alexnet": 96, "alexnet-svm": 96, "vgg19": 32, "resnet101": 32}  # the quick profile's
ENGINES = [
    ("torch-cpu", "torch", "fp32"),
    ("ort-cpu", "onnxruntime", "fp32"),
    ("ort-cpu", "onnxruntime", "int8"),
    ("ov-cpu", "openvino", "fp32"),
    ("ov-cpu", "openvino", "int8"),
    ("torch-cpu-compile", "torch", "fp32"),
]
ERROR = "OpenVINO cannot compile this model for fp16 on this CPU: pip install 'openvino>=2024' [gpu]"


def standard_run() -> CompareRun:
    rows = []
    for i, (model, acc) in enumerate(MODELS.items()):
        for j, (variant, engine, precision) in enumerate(ENGINES):
            for batch in (1, 8):
                lat = (3.0 + 400 * i + 2 * j) * (5 if batch == 8 else 1)  # up to 8000 ms: wide numbers
                rows.append(
                    Record(
                        model,
                        variant,
                        engine,
                        "cpu",
                        precision,
                        batch,
                        accuracy_pct=acc - (0.1 if precision == "int8" else 0),
                        agreement_pct=98.5 if (precision == "int8" and model == "alexnet-svm") else 99.9,
                        max_logit_diff=1e-5,
                        lat_count=83 if batch == 8 else 240,
                        lat_p50_ms=lat,
                        lat_p99_ms=lat * 1.3,
                        lat_cv=0.05,
                        throughput_ips=1000 * batch / lat,
                        params=5_850_000,
                        gflops=0.13,
                        file_bytes=23_000_000,
                        input_size=SIZES[model],
                        timing_size=SIZES[model],
                        test_images=240,
                        how_trained="quick, 10 ep, 64 px, from scratch",
                        near_chance=acc < 30,
                    )
                )
    rows.append(Record("resnet101", "ov-cpu", "openvino", "cpu", "fp16", 1, error=ERROR))
    env = {"dataset": "synth", "cpu": "AMD EPYC 7B13 64-Core Processor", "threads": 2}
    return CompareRun(tuple(rows), env, {}, {"cpu": {"median_ms": 1.0}})


def render(renderable, width: int, terminal: bool) -> str:
    console = Console(file=io.StringIO(), width=width, force_terminal=terminal, color_system=None)
    print_table(renderable, console)
    return console.file.getvalue()


def row_lines(text: str) -> list[str]:
    """The lines between a table's header rule and its caption (its rows, blank separators left out)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("──"))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].strip().startswith("* ="))
    return [line for line in lines[start + 1 : end] if line.strip()]


@pytest.mark.parametrize("width", [80, 100])
def test_compact_compare_tables_fit_a_terminal_whole(width):
    run = standard_run()
    for table, n_rows in ((records_table(run, group=True), 61), (scenarios_table(run, group=True), 31)):
        text = render(table, width, terminal=True)
        assert "…" not in text  # no name, engine, precision or number cut
        assert max(len(line) for line in text.splitlines()) <= width
        rows = row_lines(text)
        assert len(rows) == n_rows  # one line a row: nothing wrapped
        assert sum(line.startswith("alexnet-svm ") for line in rows) == 1  # grouped: named once
        assert sum("torch-cpu-compile fp32" in line for line in rows) == (10 if n_rows == 61 else 5)
    scenarios_text = render(scenarios_table(run, group=True), width, terminal=True)
    assert "vgg19 ~" in scenarios_text and "near chance" in scenarios_text  # marked as in the records table
    text = render(records_table(run, group=True), width, terminal=True)
    assert " int8 ✗" in text and "- (n=83)" in text and "3.00*" in text and " px " in text
    assert "* = best in its column" in " ".join(text.split())


def test_off_a_terminal_every_row_carries_its_model_and_the_best_is_a_character():
    run = standard_run()
    for table in (records_table(run), scenarios_table(run), records_table(run, wide=True)):
        text = render(table, 80, terminal=False)  # a log: the natural width, no colour
        assert "…" not in text and "\x1b" not in text
        for line in row_lines(text):
            assert line.split()[0] in MODELS, line  # `grep ort-cpu` keeps the model
    compact = row_lines(render(records_table(run), 80, terminal=False))
    ort = [line for line in compact if " ort-cpu " in line]
    assert len(ort) == 20 and all(line.split()[0] in MODELS for line in ort)
    assert "3.00*" in compact[0] and "333.3" in compact[0] and "333.3*" not in compact[0]  # batch 8 is faster
    assert compact[-1].split()[:5] == ["resnet101", "ov-cpu", "fp16", "1", "-"]


def test_columns_by_name_and_wide():
    run = standard_run()
    assert [c.header for c in records_table(run).columns] == [
        "model",
        "engine",
        "prec",
        "batch",
        "px",  # the models were trained at different sizes
        "top-1",
        "p50 ms",
        "p99 ms",
        "img/s",
        "status",
    ]
    assert len(COMPACT) == 9
    picked = records_table(run, columns=("img/s", "engine", "p50"))
    assert [c.header for c in picked.columns] == ["model", "img/s", "engine", "p50 ms"]  # the model first
    assert [c.header for c in scenarios_table(run, columns=("engine", "p90")).columns] == ["model", "engine", "p90 ms"]
    wide = [c.header for c in records_table(run, wide=True).columns]
    assert {"agree %", "max |dlogit|", "CV", "size MB", "how trained", "error"} <= set(wide)
    assert "dev p50 ms" not in wide  # no GPU row: left out
    text = render(records_table(run, wide=True), 80, terminal=False)
    assert ERROR in text and "98.5 ✗" in text and "near chance" in text
    with pytest.raises(BenchError) as e:
        check_columns(("engine", "latency"))
    assert "'latency'" in str(e.value) and "p50" in str(e.value) and "\n" not in str(e.value)


def test_models_table_keeps_every_name_whole():
    from bench.models import ModelRow

    rows = [
        ModelRow(name, "mldrnet", 5_850_000, 0.13, (1, 8), 67.24, f"MldrNet variant {name}: a long description " * 2)
        for name in ("mldrnet", "mldrnet-concat", "mldrnet-max", "mldrnet-min", "mldrnet-bigru", "mldrnet-l2")
    ] + [ModelRow("alexnet", "baseline", 57_040_000, 0.19, (1, 8), 58.61, "AlexNet fine-tuned", min_crop=63)]
    for width in (80, 100):
        text = render(models_table(rows, 32), width, terminal=True)
        assert "…" not in text and max(len(line) for line in text.splitlines()) <= width
        for r in rows:
            assert sum(line.startswith(f"{r.name} ") for line in text.splitlines()) == 1
        assert "alexnet needs 63 px" in " ".join(text.split()) and "output (1, 8) for every model" in text


class _Prediction:
    ok = True

    def __init__(self, path: str, top: str):
        self.path, self.top = path, top
        classes = ("amusement", "anger", "awe", "contentment", "disgust", "excitement", "fear", "sadness")
        self.probabilities = {c: 0.93 if c == top else 0.01 for c in classes}
        self.confidence = self.probabilities[top]


def test_predict_table_shortens_paths_and_keeps_names():
    deep = "/home/user/a/rather/long/folder/of/holiday/photos"
    preds = [
        _Prediction(f"{deep}/2024/beach.jpg", "contentment"),
        _Prediction(f"{deep}/2023/beach.jpg", "awe"),
        _Prediction("/tmp/dog.png", "fear"),
    ]
    assert short_paths([p.path for p in preds]) == ["2024/beach.jpg", "2023/beach.jpg", "dog.png"]
    described = {"engine": "torch", "provider": "eager", "precision": "fp32"}
    for width, terminal in ((80, True), (100, True), (80, False)):
        text = render(predict_table("mldrnet", described, preds), width, terminal)
        assert "…" not in text
        assert (
            "2024/beach.jpg" in text
            and "2023/beach.jpg" in text
            and "contentment (93.0%)" in text
            and "probabilities in %" in " ".join(text.split())
        )
        assert len(text.splitlines()) < 20  # no path folded over lines
    assert "excitement" in render(predict_table("mldrnet", described, preds), 80, False).splitlines()[1]  # columns


def test_train_table_prints_percentages():
    from mldrnet.training.loop import TrainResult

    text = render(train_table([TrainResult("mldrnet", epochs=3, best_val_acc=0.914, test_acc=0.9013)]), 120, False)
    assert "91.40" in text and "90.13" in text and "0.914" not in text and "top-1 in %" in text


def test_mlperf_and_paired_tables_fit_80_columns_and_say_what_they_leave_out():
    from types import SimpleNamespace

    from bench.cli.mlperf import mlperf_notes, mlperf_table
    from bench.cli.tables import paired_table
    from bench.paired import PairedRow

    def loadgen(scenario, **kw):
        fields = dict(model="alexnet-svm", variant="torch-cpu-compile", precision="fp32", scenario=scenario)
        fields |= dict(figure=7.39, validity="VALID", offered_qps=None, p99_ms=8.1, latency_count=20490)
        fields |= dict(accuracy_pct=None, ok=True, error=None, invalid_reasons=[], official=False)
        return SimpleNamespace(**(fields | kw))

    records = [
        loadgen("single-stream"),
        loadgen("multi-stream", figure=37.4),
        loadgen("server", figure=44.3, offered_qps=44.5, validity="INVALID", invalid_reasons=["p99 > target"]),
        loadgen("offline", figure=1084.1),
        loadgen("server", ok=False, error="cannot compile", figure=None, validity=None, p99_ms=None),
    ]
    text = render(mlperf_table(records, group=True), 80, terminal=True)
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 80
    assert "INVALID" in text and "error" in text and "1084.1/s" in text and "20490" in text
    assert mlperf_notes(records) == [
        "alexnet-svm torch-cpu-compile fp32 server: INVALID: p99 > target",
        "alexnet-svm torch-cpu-compile fp32 server: cannot compile",
    ]

    def pair(b, problem=None):
        return PairedRow("mldrnet", b, 180, 90.0, 65.0, (84.7, 93.6), (57.8, 71.6), 25.0, 17.8, 32.2, 120, 5,
                         1.2e-9, 4.8e-9, problem or "")  # fmt: skip

    rows = [pair("alexnet-svm"), pair("resnet101", problem="no per-image predictions of ResNet-101")]
    text = render(paired_table(rows, "MldrNet against the baselines"), 80, terminal=True)
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 80
    assert "(A = mldrnet)" in text and "[+17.8, +32.2]" in text and "120/5" in text
    assert "resnet101 not compared: no per-image predictions of" in " ".join(text.split())


def test_loadgen_best_is_never_an_invalid_figure():
    from bench.cli.tables import loadgen_table

    def figure(variant, p90, validity):
        return {"model": "mldrnet", "variant": variant, "precision": "fp32", "error": None,
                "single-stream": {"figure": p90, "count": 500, "validity": validity}}  # fmt: skip

    text = render(loadgen_table([figure("ort-cpu", 1.0, "INVALID"), figure("ov-cpu", 2.0, "VALID")]), 80, False)
    assert "1.00 ✗" in text and "2.00*" in text  # the faster figure did not count: LoadGen rejected its run
