"""The peak that "% of peak" divides by (bench.peak): CPU facts from fabricated /proc text, the theoretical FMA
peak and the int8 limit from fabricated flags, the steady-state measurement on a fake clock, and FLOPs counted
over real inputs (not padding) from a torch module and from an ONNX graph, checked against brute force."""

import itertools
import math

import numpy as np
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from bench import peak as peak_mod
from bench.peak import (
    CpuFacts,
    Peak,
    conv_flops,
    executed_gflops,
    int8_factor,
    max_clock_mhz,
    measure_peak,
    onnx_gflops,
    parse_cpuinfo,
    theoretical_peak,
    valid_taps,
)
from bench.record_schema import Calibration
from bench.timing import achieved

CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model name\t: Intel(R) Xeon(R) Fake 8480
cpu MHz\t\t: 1900.000
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512_vnni amx_int8

processor\t: 1
vendor_id\t: GenuineIntel
cpu MHz\t\t: 2100.500
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512_vnni amx_int8
"""


def facts(flags, mhz=3000.0, physical=4, usable=8, vendor="GenuineIntel", family=6):
    return CpuFacts(vendor, "fake", family, frozenset(flags.split()), mhz, "test", physical, usable)


# --- CPU facts, the theoretical peak, the int8 limit ---------------------------------------------------------


def test_cpuinfo_gives_the_first_processors_fields_and_the_largest_clock():
    info = parse_cpuinfo(CPUINFO)
    assert info["vendor"] == "GenuineIntel" and info["family"] == 6 and info["model"].endswith("8480")
    assert {"avx512f", "avx512_vnni", "fma"} <= info["flags"] and info["cpu_mhz"] == 2100.5
    assert parse_cpuinfo("")["cpu_mhz"] is None and parse_cpuinfo("")["flags"] == frozenset()


def test_the_clock_prefers_the_maximum_and_says_where_it_came_from():
    mhz, source = max_clock_mhz("3700000\n", 3500.0, 2600.0)
    assert mhz == 3700.0 and "cpuinfo_max_freq" in source
    mhz, source = max_clock_mhz(None, 3500.0, 2600.0)
    assert mhz == 3500.0 and "psutil" in source
    mhz, source = max_clock_mhz("garbage", 0.0, 2600.0)
    assert mhz == 2600.0 and "current clock" in source  # a VM's cpuinfo: turbo may be faster, and it says so
    assert max_clock_mhz(None, None, None)[0] is None


def test_theoretical_peak_is_cores_clock_lanes_two_flops_fma_units():
    t = theoretical_peak(facts("avx avx2 fma avx512f"), threads=2)
    assert (t.isa, t.vector_bits, t.cores, t.fma_units) == ("AVX-512", 512, 2, 2)  # 2 threads cap 4 cores
    assert t.gflops_per_s == pytest.approx(2 * 3.0 * 16 * 2 * 2)  # 384 GFLOP/s
    assert "assumed" in t.fma_source
    assert theoretical_peak(facts("avx avx2 fma"), threads=16).gflops_per_s == pytest.approx(4 * 3.0 * 8 * 2 * 2)
    no_fma = theoretical_peak(facts("avx"), threads=1)
    assert no_fma.fma_units == 1 and no_fma.gflops_per_s == pytest.approx(3.0 * 8 * 2)
    assert theoretical_peak(facts("avx2 fma", mhz=None), threads=2).gflops_per_s is None  # unknown clock: None
    assert theoretical_peak(facts("", physical=None), threads=2).gflops_per_s is None  # unknown vector width
    assert theoretical_peak(facts("avx2 fma", physical=None, usable=3), threads=8).cores == 3
    assert theoretical_peak(facts("avx2 fma", physical=1), threads=2).cores == 1  # SMT siblings: one core's FMAs
    assert theoretical_peak(facts("avx2 fma"), threads=2, fma_units=1).gflops_per_s == pytest.approx(2 * 3.0 * 8 * 2)
    zen4 = theoretical_peak(facts("avx2 fma avx512f", vendor="AuthenticAMD", family=25), threads=2)
    assert any("Zen 4" in n for n in zen4.notes) and zen4.to_dict()["notes"] == list(zen4.notes)


def test_int8_limit_is_four_times_with_vnni_or_amx_else_two():
    assert int8_factor("avx2 fma avx512f avx512_vnni".split())[0] == 4.0
    assert int8_factor(["avx_vnni"])[0] == 4.0
    factor, basis = int8_factor(["amx_int8", "avx512_vnni"])
    assert factor == 4.0 and "amx_int8" in basis and "no upper bound" in basis
    factor, basis = int8_factor(["avx2", "fma"])
    assert factor == 2.0 and "no VNNI" in basis


def test_int8_rows_divide_by_the_int8_limit_and_fp32_rows_by_the_fp32_peak():
    p = Peak("cpu", 1000, 10.0, 3, 2, int8_factor=4.0, int8_basis="4x")  # 200 GFLOP/s fp32
    assert p.reference("fp32") == pytest.approx(200.0) and p.reference("int8") == pytest.approx(800.0)
    assert achieved(2.0, 50.0, p, "fp32") == pytest.approx((100.0, 0.5))
    assert achieved(2.0, 50.0, p, "int8") == pytest.approx((100.0, 0.125))
    assert achieved(2.0, 50.0, p) == pytest.approx((100.0, 0.5))  # the default precision is fp32
    gpu = Peak("cuda", 1000, 10.0, 3, 2)  # no int8 limit known: the row keeps its GFLOP/s, without a fraction
    assert achieved(2.0, 50.0, gpu, "int8") == (100.0, None) and gpu.to_dict()["int8_gflops_per_s"] is None
    assert achieved(2.0, 50.0, 400.0, "int8") == (100.0, 0.25)  # a number is the reference itself


# --- the measurement -------------------------------------------------------------------------------------------


class ProductClock:
    """A clock that moves only when a matrix product runs: each product takes the next duration."""

    def __init__(self, durations):
        self.now, self.durations, self.products = 0.0, list(durations), 0

    def __call__(self):
        return self.now

    def matmul(self, a, b, out=None):
        self.now += self.durations[min(self.products, len(self.durations) - 1)]
        self.products += 1
        return out


def test_the_peak_is_the_fastest_steady_state_run_with_its_spread(monkeypatch):
    clock = ProductClock([0.1, 0.1, 0.125, 0.1])  # warm-up, then three runs of one product each
    monkeypatch.setattr(peak_mod.torch, "matmul", clock.matmul)
    cpu = facts("avx2 fma avx512_vnni")
    p = measure_peak("cpu", size=32, min_runs=3, budget_s=0.0, clock=clock, warmup_s=0.0, run_s=0.1, facts=cpu)
    assert (p.runs, p.products_per_run, p.size) == (3, 1, 32)
    assert p.best_ms == pytest.approx(100.0) and p.median_ms == pytest.approx(100.0)
    assert p.spread == pytest.approx((10.0 - 8.0) / 10.0)  # rates 10, 8, 10 per second over the median 10
    assert p.cv == pytest.approx(np.std([10.0, 8.0, 10.0], ddof=1) / np.mean([10.0, 8.0, 10.0]))
    assert p.int8_factor == 4.0 and p.theoretical is not None and p.theoretical["gflops_per_s"] > 0


def test_a_run_holds_enough_products_to_last_run_s(monkeypatch):
    clock = ProductClock([0.025])
    monkeypatch.setattr(peak_mod.torch, "matmul", clock.matmul)
    p = measure_peak("cpu", size=32, min_runs=2, budget_s=0.0, clock=clock, warmup_s=0.1, run_s=0.1, facts=facts(""))
    assert p.products_per_run == 4 and p.best_ms == pytest.approx(25.0) and p.spread == pytest.approx(0.0)
    assert clock.products == 4 + 2 * 4  # 0.1 s of warm-up products, then two runs of four
    assert p.warmup_s == pytest.approx(0.1)


def test_n_grows_while_a_product_is_too_short_to_be_steady(monkeypatch):
    monkeypatch.setattr(peak_mod, "PEAK_SIZE", {"cpu": 16})
    monkeypatch.setattr(peak_mod, "MAX_CPU_SIZE", 256)
    clock = ProductClock([0.001, 0.001, 0.03])  # 16 and 32 are too quick; 64 takes 30 ms: it stays there
    monkeypatch.setattr(peak_mod.torch, "matmul", clock.matmul)
    p = measure_peak("cpu", min_runs=1, budget_s=0.0, clock=clock, warmup_s=0.0, facts=facts(""))
    assert p.size == 64
    clock = ProductClock([0.001])
    monkeypatch.setattr(peak_mod.torch, "matmul", clock.matmul)
    assert measure_peak("cpu", min_runs=1, budget_s=0.0, clock=clock, warmup_s=0.0, facts=facts("")).size == 256


def test_a_real_peak_is_recorded_in_a_form_the_schema_takes():
    p = measure_peak("cpu", size=96, min_runs=2, budget_s=0.0, warmup_s=0.0, run_s=0.005)
    d = p.to_dict()
    assert d["gflops_per_s"] > 0 and d["runs"] == 2 and d["spread"] >= 0 and d["threads"] == torch.get_num_threads()
    assert d["int8_factor"] in (2.0, 4.0) and d["int8_basis"]
    assert Calibration.model_validate({"median_ms": 1.0, "peak": d}).peak is not None


# --- FLOPs over real inputs ------------------------------------------------------------------------------------


def brute_taps(n_in, n_out, kernel, stride, pad, dilation):
    return sum(0 <= o * stride - pad + j * dilation < n_in for o in range(n_out) for j in range(kernel))


def test_valid_taps_match_brute_force():
    for n_in, kernel, stride, pad, dil in itertools.product(
        (1, 5, 8, 13), (1, 3, 5, 11), (1, 2, 4), (0, 1, 2, 5), (1, 2)
    ):
        n_out = (n_in + 2 * pad - dil * (kernel - 1) - 1) // stride + 1
        if n_out < 1:
            continue
        assert valid_taps(n_in, n_out, kernel, stride, pad, dil) == brute_taps(n_in, n_out, kernel, stride, pad, dil)
    assert valid_taps(10, 10, 3, 1, 1) == 10 * 3 - 2  # one tap off each border


def test_conv_flops_without_padding_are_the_dense_count():
    x, w, out = [2, 8, 10, 10], [4, 8, 3, 3], [2, 4, 8, 8]
    assert conv_flops(x, w, out, [1, 1], [0, 0], [1, 1]) == 2 * math.prod(out) * math.prod(w[1:])
    padded = conv_flops(x, w, [2, 4, 10, 10], [1, 1], [1, 1], [1, 1])
    assert padded == 2 * 2 * 4 * 8 * (10 * 3 - 2) ** 2  # less than the dense 2 * 2*4*100 * 8*9


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 5, stride=2, padding=2)
        self.conv2 = nn.Conv2d(4, 6, 3, padding=1, groups=2)
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(24, 5)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(torch.relu(self.conv2(torch.relu(self.conv1(x))))), 1))


def tiny_expected_flops(size):
    out1 = (size + 4 - 5) // 2 + 1
    conv1 = 2 * 4 * 3 * valid_taps(size, out1, 5, 2, 2) ** 2
    conv2 = 2 * 6 * 2 * valid_taps(out1, out1, 3, 1, 1) ** 2  # groups 2: 2 input channels per output
    return conv1 + conv2 + 2 * 24 * 5


def test_executed_gflops_counts_a_torch_module_over_real_inputs():
    model = Tiny()
    assert executed_gflops(model, 16) * 1e9 == pytest.approx(tiny_expected_flops(16))
    assert model.training  # put back as it was


def _tiny_onnx(size, batch_dim):
    w1, w2 = np.zeros((4, 3, 5, 5), np.float32), np.zeros((6, 2, 3, 3), np.float32)
    fc = np.zeros((5, 24), np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[2, 2, 2, 2], strides=[2, 2]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], pads=[1, 1, 1, 1], group=2),
        helper.make_node("MaxPool", ["c2"], ["p"], kernel_shape=[4, 4], strides=[4, 4]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "fc"], ["y"], transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch_dim, 3, size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch_dim, 5])],
        [numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (w2, "w2"), (fc, "fc"))],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_onnx_gflops_counts_the_graph_the_engine_loads(tmp_path):
    proto = _tiny_onnx(16, "batch")
    g = onnx_gflops(proto, batch=1)
    assert g.gflops * 1e9 == pytest.approx(tiny_expected_flops(16))  # the same count as the torch module's
    assert set(g.by_op) == {"Conv", "Gemm"} and g.dense_conv_gflops > g.by_op["Conv"]
    path = tmp_path / "tiny.onnx"
    path.write_bytes(proto.SerializeToString())
    assert onnx_gflops(path, batch=3).gflops == pytest.approx(3 * g.gflops)  # per batch
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"  # the caller's proto untouched


def test_onnx_gflops_needs_a_size_where_the_file_leaves_it_free():
    proto = _tiny_onnx("s", 1)
    with pytest.raises(ValueError, match="give the size"):
        onnx_gflops(proto)
    assert onnx_gflops(proto, size=16).gflops * 1e9 == pytest.approx(tiny_expected_flops(16))


@pytest.mark.gpu
def test_gpu_peak_is_ieee_fp32_and_below_the_theoretical_peak():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    p = measure_peak("cuda", budget_s=0.5)
    assert p.device == "cuda" and p.size == 8192 and p.int8_factor is None
    theory = p.to_dict()["theoretical_gflops_per_s"]
    if theory is not None:  # torch reports the SM clock: a measured rate above it would be TF32, not IEEE fp32
        assert p.gflops_per_s < theory
