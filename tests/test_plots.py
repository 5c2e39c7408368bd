"""The plots drawn from fixed records, checked for what can be checked without looking: plain tick labels, axis
ranges that do not turn one image into a cliff, one latency axis per serving size, stacked labels for models that
land on the same spot, failing / near-chance / gate-failing rows drawn as such, a chance line, the machine and date
in the title."""

from __future__ import annotations

import pytest

from bench.plots import MIN_Y_SPAN, latency_figure, machine_line, per_class_figure, throughput_figure, write_plots
from bench.records import Record

CLASSES = ("amusement", "anger", "awe", "contentment", "disgust", "excitement", "fear", "sadness")
ENV = {"cpu": "AMD EPYC", "threads": 2, "created": "2026-12-06T14:00:00+00:00"}


def _row(model: str, variant: str, batch: int, **kw) -> Record:
    engine = {"torch-cpu": "torch", "ort-cpu": "onnxruntime", "ov-cpu": "openvino"}[variant]
    base = dict(
        input_size=64,
        accuracy_pct=91.3,
        lat_p50_ms=2.0,
        throughput_ips=500.0,
        classes=CLASSES,
        per_class_tpr_pct=(90.0,) * 8,
        how_trained="quick, 10 ep, 64 px, from scratch",
    )
    precision = kw.pop("precision", "fp32")
    return Record(model, variant, engine, "cpu", precision, batch, **{**base, **kw})


RECORDS = [
    _row("mldrnet", "torch-cpu", 1, lat_p50_ms=3.0),
    _row("mldrnet", "ort-cpu", 1, lat_p50_ms=2.0, agreement_pct=100.0),
    _row("mldrnet", "ort-cpu", 1, precision="int8", lat_p50_ms=1.0, accuracy_pct=91.1, agreement_pct=95.0),
    # two models on the same spot (the case of VGG-19 and ResNet-101, both at 24.17 %)
    _row("vgg19", "torch-cpu", 1, accuracy_pct=24.17, lat_p50_ms=30.0, near_chance=True),
    _row("resnet101", "torch-cpu", 1, accuracy_pct=24.17, lat_p50_ms=31.0, near_chance=True),
    # a model timed at another serving size: its own panel
    _row("alexnet", "torch-cpu", 1, input_size=96, accuracy_pct=70.0, lat_p50_ms=4.0),
    Record("alexnet", "ort-cpu", "onnxruntime", "cpu", "fp32", 1, input_size=96, error="export failed"),
]


def _labels(axis) -> list[str]:
    return [t.get_text() for t in axis.get_ticklabels() if t.get_text()]


def test_log_axes_carry_plain_numbers_only():
    fig = latency_figure(RECORDS)
    fig.canvas.draw()  # tick labels are made at draw time
    for ax in fig.axes:
        labels = _labels(ax.xaxis) + [t.get_text() for t in ax.xaxis.get_minorticklabels() if t.get_text()]
        assert labels and all("10^" not in s and "\\times" not in s and "×" not in s for s in labels), labels
        assert all(float(s) > 0 for s in labels)


def test_one_latency_axis_per_serving_size():
    fig = latency_figure(RECORDS)
    assert len(fig.axes) == 2
    assert [ax.get_xlabel().endswith(f"at {px} px") for ax, px in zip(fig.axes, (64, 96))] == [True, True]


def test_a_one_image_difference_is_not_a_cliff():
    close = [_row("mldrnet", "torch-cpu", 1, accuracy_pct=91.3), _row("mldrnet", "ort-cpu", 1, accuracy_pct=91.1)]
    low, high = latency_figure(close).axes[0].get_ylim()
    assert high - low >= MIN_Y_SPAN and low <= 91.1 and high >= 91.3
    low, high = latency_figure([_row("mldrnet", "torch-cpu", 1, accuracy_pct=99.9)]).axes[0].get_ylim()
    assert high <= 100 and high - low >= MIN_Y_SPAN  # squeezed against 100: extended downwards


def test_models_on_the_same_spot_get_stacked_labels():
    ax = latency_figure(RECORDS).axes[0]
    offsets = {a.get_text().split()[0]: a.xyann for a in ax.texts}
    assert offsets["vgg19"] != offsets["resnet101"]  # told apart
    assert "(near chance)" in next(a.get_text() for a in ax.texts if a.get_text().startswith("vgg19"))


def test_failing_near_chance_and_gate_failing_rows_are_marked():
    fig = throughput_figure(RECORDS, machine_line(ENV))
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "int8 below the agreement gate" in legend and "hollow: near chance" in legend
    assert any("failed (no point): alexnet ort-cpu fp32" in t.get_text() for t in fig.texts)
    healthy = [r for r in RECORDS if r.precision != "int8" and not r.near_chance]
    legend = [t.get_text() for t in throughput_figure(healthy).axes[0].get_legend().get_texts()]
    assert "int8 below the agreement gate" not in legend and "hollow: near chance" not in legend


def test_per_class_plot_has_a_chance_line_and_a_legend_off_the_bars():
    fig = per_class_figure(RECORDS)
    ax = fig.axes[0]
    assert ax.get_legend() is None and fig.legends  # the legend is the figure's, under the axes
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any(label.startswith("chance (12.5 %") for label in labels)
    assert [line.get_ydata()[0] for line in ax.get_lines()] == [pytest.approx(12.5)]


def test_titles_name_the_machine_and_the_date(tmp_path):
    assert machine_line(ENV) == "AMD EPYC, 2 threads, 2026-12-06"
    assert "AMD EPYC, 2 threads, 2026-12-06" in latency_figure(RECORDS, machine_line(ENV))._suptitle.get_text()
    paths = write_plots(RECORDS, tmp_path, ENV)
    assert {p.name for p in paths} >= {"accuracy_vs_latency.png", "accuracy_vs_throughput.png", "per_class_tpr.png"}
