"""Views of the records: the rich table (best per column), warnings, and the PNG plots."""

import io

from PIL import Image
from rich.console import Console

from bench.cli.tables import best_values, records_table
from bench.plots import model_rows, write_plots
from bench.records import CompareRun, Record
from bench.report import save_all, warnings_for
from tests.helpers.compare_fakes import CLASSES

CM = tuple(tuple(5 if i == j else (1 if j == (i + 1) % 8 else 0) for j in range(8)) for i in range(8))


def _row(model, variant, batch, **kw):
    engine = "torch" if variant.startswith("torch") else "onnxruntime"
    base = dict(
        accuracy_pct=60.0,
        mean_tpr_pct=58.0,
        agreement_pct=100.0,
        max_logit_diff=0.0,
        lat_p50_ms=10.0,
        lat_p99_ms=12.0,
        lat_cv=0.05,
        throughput_ips=100.0,
        params=1_000_000,
        gflops=0.5,
        file_bytes=4_000_000,
        classes=CLASSES,
        confusion=CM,
        per_class_tpr_pct=(83.3,) * 7 + (None,),
    )
    return Record(model, variant, engine, "cpu", "fp32", batch, **{**base, **kw})


def _run(records):
    return CompareRun(
        tuple(records),
        {"dataset": "synth", "cpu": "test cpu", "threads": 2},
        {},
        {"cpu": {"median_ms": 1.0, "before_ms": 1.0, "after_ms": 1.0}},
    )


RECORDS = [
    _row("mldrnet", "torch-cpu", 1, lat_p50_ms=5.0),
    _row("mldrnet", "ort-cpu", 1, lat_p50_ms=3.0, agreement_pct=99.7, max_logit_diff=1e-5),
    _row("mldrnet", "ort-cpu", 8, lat_p50_ms=20.0, throughput_ips=400.0),
    _row("alexnet", "torch-cpu", 1, accuracy_pct=55.0, lat_p50_ms=8.0),
    Record("alexnet", "ort-cpu", "onnxruntime", "cpu", "fp32", 1, error="export failed"),
]


def test_best_values_per_column_and_latency_per_batch():
    best = best_values(RECORDS)
    assert best[("top-1", None)] == 60.0
    assert best[("p50 ms", 1)] == 3.0  # fastest batch-1 row
    assert best[("p50 ms", 8)] == 20.0  # batch 8 judged only against batch 8
    assert best[("img/s", None)] == 400.0
    assert best[("max |dlogit|", None)] == 0.0


def test_table_groups_by_model_and_highlights_the_best():
    console = Console(file=io.StringIO(), width=250, force_terminal=False, color_system=None)
    table = records_table(_run(RECORDS), group=True, wide=True)  # a terminal groups a model's rows
    console.print(table)
    text = console.file.getvalue()
    assert text.index("mldrnet") < text.index("alexnet")
    assert text.count("mldrnet") == 1 and text.count("alexnet") == 1  # model named once per group
    assert "export failed" in text
    assert "paper FI %" not in text and "dev p50" not in text  # no FI rows, no GPU rows: columns left out
    cells = {c.header: list(c.cells) for c in table.columns}
    assert cells["p50 ms"][1] == "[bold green]3.00*[/]" and cells["p50 ms"][0] == "5.00 "  # marked, aligned
    assert cells["p50 ms"][2] == "[bold green]20.00*[/]"
    assert cells["top-1"][3] == "55.00 "  # alexnet is not the best
    assert cells["top-1"][4] == "-"  # the error row has no numbers


def test_error_text_is_shown_as_written_not_as_markup():
    message = "TensorRT cannot run here: pip install 'bench-mldrnet[gpu]' [/] [bold]"
    bad = Record("vgg[19]", "trt", "tensorrt", "cuda", "fp16", 1, error=message)
    console = Console(file=io.StringIO(), width=400, force_terminal=False, color_system=None)
    console.print(records_table(_run(RECORDS + [bad]), wide=True))  # a stray "[/]" would raise MarkupError
    text = console.file.getvalue()
    assert message in text and "vgg[19]" in text


def test_gpu_and_fi_columns_appear_when_rows_have_them():
    gpu = _row("mldrnet", "trt", 1, resident_p50_ms=0.4, resident_ips=2500.0, paper_fi_accuracy_pct=67.24)
    table = records_table(_run(RECORDS + [gpu]), wide=True)
    cells = {c.header: list(c.cells) for c in table.columns}
    # grouped by model: the new mldrnet row is the group's 4th line, before alexnet's rows
    assert cells["engine"][3] == "trt"
    assert cells["dev p50 ms"][3] == "[bold green]0.40*[/]" and cells["dev p50 ms"][0] == "-"
    assert cells["paper FI %"][3] == "67.24"


def test_warnings_name_errors_noise_and_broken_parity():
    records = RECORDS + [
        _row("vgg19", "torch-cpu", 1, noisy=True, lat_cv=0.4),
        _row("vgg19", "ort-cpu", 1, agreement_pct=80.0),
    ]
    text = "\n".join(warnings_for(_run(records)))
    assert "alexnet ort-cpu fp32 batch 1: export failed" in text
    assert "vgg19 torch-cpu fp32 batch 1: noisy timing (CV 0.40)" in text
    assert "80.0% top-1 agreement" in text
    assert "mldrnet" not in text  # 99.7% agreement is fine


def test_plots_are_written_as_png(tmp_path):
    paths = write_plots(RECORDS, tmp_path)
    names = sorted(p.name for p in paths)
    assert names == [
        "accuracy_vs_latency.png",
        "accuracy_vs_throughput.png",
        "confusion_alexnet.png",
        "confusion_mldrnet.png",
        "per_class_tpr.png",
    ]
    for p in paths:
        with Image.open(p) as im:
            assert im.format == "PNG" and im.size[0] > 300 and im.size[1] > 200
            assert len(im.convert("L").getcolors(maxcolors=1 << 16)) > 10  # something was drawn


def test_model_rows_prefer_the_reference_row():
    rows = model_rows([RECORDS[1], RECORDS[0]])
    assert rows["mldrnet"].variant == "torch-cpu"


def test_no_plot_without_successful_rows(tmp_path):
    assert write_plots([RECORDS[-1]], tmp_path) == []


def test_save_all_writes_records_and_plots(tmp_path):
    written = save_all(_run(RECORDS), tmp_path / "out")
    assert {p.name for p in written} >= {"records.json", "records.csv", "accuracy_vs_latency.png"}
    assert all(p.is_file() for p in written)
