"""The machine's limit that every "% of peak" figure divides by, and the FLOPs it divides.

Three numbers, each with where it came from:
- the measured fp32 peak (`measure_peak`): (n x n) @ (n x n) float32 products into a preallocated output (no
  allocation or first-touch page faults inside the timing), n grown until one product takes >= 20 ms at the
  run's threads, warmed up for a fixed time (thread pool start, clock ramp-up), then timed as runs of several
  products each (>= `run_s`); the peak is the best run's rate (what the machine can sustain, not what it did on
  average) and its spread over the runs is recorded, so a run on a busy machine says so;
- the theoretical FMA peak (`theoretical_peak`): cores x clock x fp32 lanes x 2 FLOPs x FMA units, from
  /proc/cpuinfo flags (vector width), the maximum clock (sysfs, psutil, else cpuinfo's current 'cpu MHz') and
  psutil's physical cores capped by the threads; FMA units per core is an assumption (2, `FMA_UNITS`), stated in
  the result; None where a number is unknown;
- the int8 limit (`int8_factor`): 4x the fp32 peak where the CPU has VNNI (avx512_vnni, avx_vnni) or AMX
  (amx_int8), 2x without; the basis is recorded. None on a GPU (tensor cores: no fixed ratio to fp32).

FLOPs are counted the way the CPU engines execute a convolution: multiply-adds whose input is a real pixel, not
padding (`conv_flops`). ONNX Runtime's NCHWc kernels shrink the kernel window at the borders rather than multiply
by the zeros of the padding (mlas/lib/snchwc.cpp, ComputeEffectiveKernel), and so do oneDNN's direct
convolutions; the dense count (torch.utils.flop_counter's, which notes it ignores padding) charges them for
work they never do: 12 % of MldrNet's count at 224 px, which is how ONNX Runtime rows passed 100 % of the peak.
`executed_gflops` counts a torch module so, `onnx_gflops` the graph an engine loads.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

FMA_UNITS = 2  # assumed FMA pipes per core: two on every x86 core since Haswell / Zen (one on some Atom/Xeon SKUs)
MIN_PRODUCT_S = 0.02  # a product shorter than this grows n: too short to keep every core busy in steady state
MAX_CPU_SIZE = 8192  # 3 x 256 MiB of operands: the growth stops there
PEAK_SIZE = {"cpu": 2048, "cuda": 8192}  # the starting n of the (n x n) @ (n x n) float32 product

CPUINFO = Path("/proc/cpuinfo")
MAX_FREQ = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")  # kHz

# (flag, fp32 vector bits, name), widest first: the widest the CPU reports is what MKL / MLAS / oneDNN run
VECTOR_ISAS = (("avx512f", 512, "AVX-512"), ("avx2", 256, "AVX2"), ("avx", 256, "AVX"), ("sse2", 128, "SSE2"))
ARM_ISAS = (("asimd", 128, "NEON"),)  # SVE's width is not in the flags: NEON's 128 bits, a lower bound for SVE
INT8_4X_FLAGS = ("amx_int8", "avx512_vnni", "avx_vnni")  # 4 int8 multiply-adds per 32-bit lane per instruction

# FP32 multiply-adds per clock per SM by compute capability (the CUDA C Programming Guide's throughput table)
GPU_FP32_LANES = {(7, 0): 64, (7, 5): 64, (8, 0): 64, (8, 6): 128, (8, 7): 128, (8, 9): 128, (9, 0): 128}
GPU_FP32_LANES_LATER = 128  # compute capability 10.x and 12.x (Blackwell)


# --- what the CPU says about itself ------------------------------------------------------------------------


@dataclass(frozen=True)
class CpuFacts:
    """What the theoretical peak is made of, each with its source (None: unknown)."""

    vendor: str | None
    model: str | None
    family: int | None
    flags: frozenset[str]
    clock_mhz: float | None
    clock_source: str
    physical_cores: int | None
    usable_cpus: int | None


def parse_cpuinfo(text: str) -> dict[str, Any]:
    """The first processor's fields of /proc/cpuinfo, plus the largest 'cpu MHz' of all processors."""
    first: dict[str, str] = {}
    mhz: list[float] = []
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not sep:
            continue
        if key == "cpu MHz":
            try:
                mhz.append(float(value))
            except ValueError:
                pass
        first.setdefault(key, value)
    flags = frozenset((first.get("flags") or first.get("Features") or "").split())
    family = first.get("cpu family")
    return {
        "vendor": first.get("vendor_id"),
        "model": first.get("model name"),
        "family": int(family) if family and family.isdigit() else None,
        "flags": flags,
        "cpu_mhz": max(mhz) if mhz else None,
    }


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def max_clock_mhz(sysfs_khz: str | None, psutil_max_mhz: float | None, cpuinfo_mhz: float | None):
    """(MHz, source): the kernel's maximum (boost) clock, else psutil's maximum, else cpuinfo's current clock (a
    VM often shows only that: turbo may run faster, so the theoretical peak is then no upper bound), else None."""
    try:
        khz = float(sysfs_khz) if sysfs_khz else 0.0
    except ValueError:
        khz = 0.0
    if khz > 0:
        return khz / 1e3, f"{MAX_FREQ} (maximum clock)"
    if psutil_max_mhz:
        return float(psutil_max_mhz), "psutil.cpu_freq().max (maximum clock)"
    if cpuinfo_mhz:
        return float(cpuinfo_mhz), "/proc/cpuinfo 'cpu MHz' (current clock: turbo may be faster)"
    return None, "no clock source (no cpufreq, psutil max 0, no 'cpu MHz')"


def read_cpu_facts(cpuinfo: Path = CPUINFO, max_freq: Path = MAX_FREQ) -> CpuFacts:
    import psutil  # a dependency; imported here so that `bench -h` stays light

    info = parse_cpuinfo(_read(cpuinfo) or "")
    freq = psutil.cpu_freq()
    mhz, source = max_clock_mhz(_read(max_freq), freq.max if freq else None, info["cpu_mhz"])
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return CpuFacts(
        info["vendor"], info["model"], info["family"], info["flags"], mhz, source, psutil.cpu_count(False), usable
    )


# --- the theoretical FMA peak and the int8 limit -----------------------------------------------------------


@dataclass(frozen=True)
class TheoreticalPeak:
    gflops_per_s: float | None  # None where a factor is unknown
    cores: int | None
    cores_source: str
    clock_mhz: float | None
    clock_source: str
    isa: str | None  # the widest vector extension in the flags
    vector_bits: int | None
    fma_units: int
    fma_source: str
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {**asdict(self), "notes": list(self.notes)}


def _vector_isa(flags: frozenset[str]) -> tuple[str | None, int | None]:
    for flag, bits, name in VECTOR_ISAS + ARM_ISAS:
        if flag in flags:
            return name, bits
    return None, None


def theoretical_peak(facts: CpuFacts, threads: int, fma_units: int = FMA_UNITS) -> TheoreticalPeak:
    """cores x clock x fp32 lanes x 2 x FMA units. Cores: the physical cores, capped by the threads the run uses
    and the CPUs it may use (SMT siblings share one core's FMA units, which counts alone cannot see)."""
    isa, bits = _vector_isa(facts.flags)
    notes: list[str] = []
    fma_source = f"assumed: {fma_units} FMA units per core (bench.peak.FMA_UNITS)"
    if isa is not None and isa.startswith("AVX") and "fma" not in facts.flags:  # AVX without FMA: mul + add pipes
        fma_source = "no 'fma' flag: one multiply and one add pipe, as many FLOPs as one FMA unit"
        fma_units = 1
    if facts.vendor == "AuthenticAMD" and facts.family == 25 and isa == "AVX-512":
        notes.append("AMD Zen 4 runs a 512-bit FMA as two 256-bit halves: its hardware rate is half of this")
    caps = [c for c in (facts.physical_cores, facts.usable_cpus, threads) if c]
    cores = min(caps) if caps else None
    cores_source = "min(psutil physical cores, usable CPUs, threads)"
    if facts.physical_cores is None:
        cores_source = "physical cores unknown: min(usable CPUs, threads)"
    rate = None
    if cores and facts.clock_mhz and bits:
        rate = cores * facts.clock_mhz * 1e-3 * (bits // 32) * 2 * fma_units
    return TheoreticalPeak(
        rate, cores, cores_source, facts.clock_mhz, facts.clock_source, isa, bits, fma_units, fma_source, tuple(notes)
    )


def int8_factor(flags: Iterable[str]) -> tuple[float, str]:
    """(int8 limit / fp32 peak, why): 4 with a 4-way int8 dot product instruction (VNNI) or AMX, else 2 (int8
    through 16-bit multiply-adds: twice the fp32 lanes)."""
    found = [f for f in INT8_4X_FLAGS if f in set(flags)]
    if not found:
        return 2.0, "2x: no VNNI or AMX in the CPU flags (int8 through 16-bit multiply-adds)"
    note = "; AMX tiles can pass 4x, so on AMX this is no upper bound" if "amx_int8" in found else ""
    return 4.0, f"4x: {', '.join(found)} in the CPU flags (4 int8 multiply-adds per 32-bit lane){note}"


def gpu_theoretical_peak(device: str = "cuda") -> TheoreticalPeak:
    """SMs x fp32 lanes per SM (by compute capability) x 2 x the SM clock torch reports (0 or absent: None)."""
    props = torch.cuda.get_device_properties(device)
    cc = (int(props.major), int(props.minor))
    lanes = GPU_FP32_LANES.get(cc, GPU_FP32_LANES_LATER if cc[0] >= 10 else None)
    khz = float(getattr(props, "clock_rate", 0) or 0)
    mhz = khz / 1e3 if khz > 0 else None
    rate = props.multi_processor_count * lanes * 2 * mhz * 1e-3 if lanes and mhz else None
    return TheoreticalPeak(
        rate,
        int(props.multi_processor_count),
        "torch.cuda.get_device_properties().multi_processor_count (SMs)",
        mhz,
        "torch.cuda.get_device_properties().clock_rate" if mhz else "no clock_rate from torch",
        f"sm_{cc[0]}{cc[1]}",
        None,
        1,
        f"{lanes} fp32 FMA lanes per SM for compute capability {cc[0]}.{cc[1]}" if lanes else "unknown lanes",
    )


# --- the measured peak ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Peak:
    """The best steady-state fp32 matrix-product rate on `device` at the run's threads: what "% of peak" divides
    fp32 rows by; int8 rows divide by `int8_factor` times it."""

    device: str
    size: int
    best_ms: float  # per product, in the fastest run
    runs: int
    threads: int
    products_per_run: int = 1
    median_ms: float | None = None  # per product, the median run
    spread: float | None = None  # (fastest - slowest) / median of the runs' rates: the peak's own noise
    cv: float | None = None  # std / mean of the runs' rates
    warmup_s: float | None = None
    theoretical: dict | None = None  # TheoreticalPeak.to_dict()
    int8_factor: float | None = None  # None: no int8 limit known (a GPU)
    int8_basis: str = ""

    @property
    def gflops_per_s(self) -> float:
        return 2.0 * self.size**3 / (self.best_ms * 1e-3) / 1e9

    def reference(self, precision: str) -> float | None:
        """The rate a row of `precision` is a fraction of: the int8 limit for int8 (None where unknown), the fp32
        peak otherwise (an upper bound for fp32 only: fp16/bf16/tf32 may pass it)."""
        if precision == "int8":
            return None if self.int8_factor is None else self.int8_factor * self.gflops_per_s
        return self.gflops_per_s

    def to_dict(self) -> dict:
        theory = (self.theoretical or {}).get("gflops_per_s")
        return {
            **asdict(self),
            "gflops_per_s": self.gflops_per_s,
            "theoretical_gflops_per_s": theory,
            "of_theoretical": self.gflops_per_s / theory if theory else None,
            "int8_gflops_per_s": self.reference("int8"),
        }


def _noop() -> None:
    pass


class _Products:
    """(n x n) @ (n x n) float32 products into one preallocated output, timed with `clock` around `sync`."""

    def __init__(self, device: str, n: int, clock: Callable[[], float], sync: Callable[[], None]):
        gen = torch.Generator().manual_seed(0)
        self.n, self.clock, self.sync = n, clock, sync
        self.a = torch.rand(n, n, generator=gen).to(device)
        self.b = torch.rand(n, n, generator=gen).to(device)
        self.out = torch.empty(n, n, device=device)

    def time(self, count: int = 1) -> float:
        """Seconds per product over `count` back-to-back products."""
        self.sync()
        t0 = self.clock()
        for _ in range(count):
            torch.matmul(self.a, self.b, out=self.out)
        self.sync()
        return (self.clock() - t0) / count


def _warm(device: str, n: int, grow: bool, warmup_s: float, clock, sync) -> tuple[_Products, float, float]:
    """(products, seconds of the last warm-up product, warm-up seconds): n doubled while a product is shorter
    than MIN_PRODUCT_S (many cores), then products until `warmup_s` has passed."""
    start = clock()
    p = _Products(device, n, clock, sync)
    last = p.time()  # thread pool start, first touch of the output
    while grow and last < MIN_PRODUCT_S and p.n < MAX_CPU_SIZE:
        p = _Products(device, 2 * p.n, clock, sync)
        last = p.time()
    while clock() - start < warmup_s:
        last = p.time()
    return p, last, clock() - start


def _ieee_fp32(device: str):
    """A context with TF32 off on a GPU (the fp32 peak is IEEE fp32, as the fp32 rows are); nothing on a CPU."""
    if device.startswith("cuda"):
        from engines.torch_engine import fp32_math

        return fp32_math(False)
    import contextlib

    return contextlib.nullcontext()


def measure_peak(
    device: str = "cpu",
    size: int | None = None,
    min_runs: int = 3,
    max_runs: int = 20,
    budget_s: float = 3.0,
    clock: Callable[[], float] = time.perf_counter,
    warmup_s: float = 0.25,
    run_s: float = 0.2,
    facts: CpuFacts | None = None,
) -> Peak:
    """The fp32 peak on `device` at the current torch threads: after `warmup_s` of products (n grown from 2048
    while a product takes < 20 ms on a CPU; 8192 on a GPU), runs of k back-to-back products (k from the warm-up
    so that a run lasts about `run_s`) until `min_runs` runs and `budget_s` seconds (at most `max_runs`). The peak
    is the fastest run; the spread of the runs' rates is recorded beside it, with the theoretical FMA peak and
    the int8 limit (`facts`: the CPU's, read from /proc and psutil when None)."""
    kind = device.split(":")[0]
    sync = torch.cuda.synchronize if kind == "cuda" else _noop
    with _ieee_fp32(device):
        grow = size is None and kind == "cpu"
        p, last, warm_s = _warm(device, size or PEAK_SIZE.get(kind, 2048), grow, warmup_s, clock, sync)
        k = max(1, round(run_s / last)) if last > 0 else 1
        times: list[float] = []
        start = clock()
        while len(times) < max_runs and (len(times) < min_runs or clock() - start < budget_s):
            times.append(p.time(k))
    threads = torch.get_num_threads()
    theory, factor, basis = _limits(device, threads, facts)
    median = statistics.median(times)
    rates = [1.0 / t for t in times if t > 0]
    spread = (max(rates) - min(rates)) * median if len(rates) == len(times) else None  # over the median rate
    return Peak(
        device,
        p.n,
        min(times) * 1e3,
        len(times),
        threads,
        products_per_run=k,
        median_ms=median * 1e3,
        spread=spread,
        cv=_cv(rates),
        warmup_s=warm_s,
        theoretical=theory.to_dict() if theory else None,
        int8_factor=factor,
        int8_basis=basis,
    )


def _limits(device: str, threads: int, facts: CpuFacts | None) -> tuple[TheoreticalPeak | None, float | None, str]:
    """(theoretical FMA peak, int8 factor, its basis) of `device`; a GPU's theoretical peak is None where torch
    cannot say (no CUDA properties)."""
    if device.startswith("cuda"):
        basis = "no int8 limit on a GPU (tensor cores have no fixed ratio to fp32): no fraction"
        try:
            return gpu_theoretical_peak(device), None, basis
        except (RuntimeError, AssertionError):
            return None, None, basis
    facts = facts or read_cpu_facts()
    factor, basis = int8_factor(facts.flags)
    return theoretical_peak(facts, threads), factor, basis


def _cv(values: list[float]) -> float | None:
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) / mean


# --- FLOPs as the engines execute them -----------------------------------------------------------------------


def valid_taps(n_in: int, n_out: int, kernel: int, stride: int, pad_begin: int, dilation: int = 1) -> int:
    """Over one axis: the (output position, kernel tap) pairs whose input position is inside the input, i.e.
    input index o*stride - pad_begin + j*dilation in [0, n_in), summed in closed form per tap j."""
    total = 0
    for j in range(kernel):
        offset = j * dilation - pad_begin  # input index = o * stride + offset
        lo = max(0, -(offset // stride))  # ceil(-offset / stride)
        hi = min(n_out - 1, (n_in - 1 - offset) // stride)
        total += max(0, hi - lo + 1)
    return total


def conv_flops(
    x_shape: list[int],
    w_shape: list[int],
    out_shape: list[int],
    stride: list[int],
    pad_begin: list[int],
    dilation: list[int],
) -> int:
    """2 x the multiply-adds of a convolution over real inputs only: batch x out channels x in channels per group x
    the valid (output, tap) pairs of each spatial axis (separable: a tap is valid when it is valid on every axis)."""
    taps = 1
    for ax in range(len(w_shape) - 2):
        taps *= valid_taps(x_shape[2 + ax], out_shape[2 + ax], w_shape[2 + ax], stride[ax], pad_begin[ax], dilation[ax])
    return 2 * x_shape[0] * w_shape[0] * w_shape[1] * taps


def _torch_conv_flops(x_shape, w_shape, _bias, stride, padding, dilation, transposed, *args, out_shape=None, **kw):
    """torch.utils.flop_counter's convolution formula, counting real inputs only (transposed: its dense count)."""
    from torch.utils.flop_counter import conv_flop_count

    if transposed or isinstance(padding, str):
        return conv_flop_count(x_shape, w_shape, out_shape, transposed=transposed)
    n = len(w_shape) - 2
    return conv_flops(
        list(x_shape), list(w_shape), list(out_shape), *(_axes(v, n) for v in (stride, padding, dilation))
    )


def _axes(value: Any, n: int) -> list[int]:
    values = [int(v) for v in value] if isinstance(value, (list, tuple)) else [int(value)]
    return values * n if len(values) == 1 else values


@torch.no_grad()
def executed_gflops(model: torch.nn.Module, size: int) -> float:
    """GFLOPs of one (3, size, size) image through `model` in eval mode: torch's FLOP counter (matrix products,
    convolutions: 2 x multiply-adds) with convolutions counted over real inputs, not padding."""
    from torch.utils.flop_counter import FlopCounterMode

    aten = torch.ops.aten
    ops = (aten.convolution, aten._convolution, aten.cudnn_convolution, aten.convolution_overrideable)
    was_training = model.training
    model.eval()
    try:
        with FlopCounterMode(display=False, custom_mapping=dict.fromkeys(ops, _torch_conv_flops)) as counter:
            model(torch.zeros(1, 3, size, size, device=next(model.parameters()).device))
    finally:
        model.train(was_training)
    return counter.get_total_flops() / 1e9


@dataclass(frozen=True)
class GraphFlops:
    gflops: float  # per batch of `batch`
    by_op: dict[str, float] = field(default_factory=dict)  # GFLOPs per op type
    dense_conv_gflops: float = 0.0  # the convolutions counted with their padding, for comparison
    uncounted: tuple[str, ...] = ()  # op types that multiply-add but that this count does not know (e.g. Einsum)


CONV_OPS = {"Conv": 1, "ConvInteger": 1, "QLinearConv": 3}  # op -> index of the weight input
MATMUL_OPS = {"Gemm", "MatMul", "MatMulInteger", "QLinearMatMul"}
RNN_OPS = {"RNN", "GRU", "LSTM"}
UNKNOWN_MAC_OPS = {"Einsum", "ConvTranspose", "Attention", "FusedMatMul", "QAttention"}


def onnx_gflops(model: Any, batch: int = 1, size: int | None = None) -> GraphFlops:
    """2 x the multiply-adds of an ONNX graph (a path or a ModelProto) at `batch` (and `size` px where the file's
    spatial dims are free): convolutions over real inputs (`conv_flops`), Gemm/MatMul (M x N x K), RNN/GRU/LSTM
    (their input and recurrent weights per step); shapes from ONNX shape inference."""
    import onnx

    proto = onnx.load(str(model), load_external_data=False) if isinstance(model, (str, os.PathLike)) else model
    proto = _fix_input(proto, batch, size)
    shapes = _shapes(onnx.shape_inference.infer_shapes(proto))
    total, dense = 0, 0
    by_op: dict[str, float] = {}
    unknown: set[str] = set()
    for node in proto.graph.node:
        flops, dense_conv = _node_flops(node, shapes)
        if flops is None:
            if node.op_type in UNKNOWN_MAC_OPS:
                unknown.add(node.op_type)
            continue
        total, dense = total + flops, dense + dense_conv
        by_op[node.op_type] = by_op.get(node.op_type, 0.0) + flops / 1e9
    return GraphFlops(total / 1e9, by_op, dense / 1e9, tuple(sorted(unknown)))


def _fix_input(proto: Any, batch: int, size: int | None) -> Any:
    """A copy whose first graph input has a fixed batch (and spatial size): shape inference needs numbers."""
    proto = _copy(proto)
    initializers = {t.name for t in proto.graph.initializer}
    inputs = [i for i in proto.graph.input if i.name not in initializers]
    dims = inputs[0].type.tensor_type.shape.dim
    for i, dim in enumerate(dims):
        if not dim.HasField("dim_value") or dim.dim_value <= 0:
            value = batch if i == 0 else size
            if value is None:
                raise ValueError(f"input {inputs[0].name} dim {i} is free: give the size")
            dim.dim_value = value
    if dims and dims[0].dim_value != batch:
        dims[0].dim_value = batch
    return proto


def _copy(proto: Any) -> Any:
    out = type(proto)()
    out.CopyFrom(proto)
    return out


def _shapes(proto: Any) -> dict[str, list[int]]:
    graph = proto.graph
    shapes = {t.name: list(t.dims) for t in graph.initializer}
    for v in list(graph.input) + list(graph.value_info) + list(graph.output):
        dims = v.type.tensor_type.shape.dim
        if all(d.HasField("dim_value") for d in dims):
            shapes[v.name] = [d.dim_value for d in dims]
    return shapes


def _node_flops(node: Any, shapes: dict[str, list[int]]) -> tuple[int | None, int]:
    """(FLOPs, dense convolution FLOPs) of one node; (None, 0) for a node that does no multiply-adds we count,
    or whose shapes inference left unknown."""
    from onnx import helper

    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    ins = [shapes.get(name) for name in node.input]
    out = shapes.get(node.output[0]) if node.output else None
    if node.op_type in CONV_OPS:
        x, w = ins[0], ins[CONV_OPS[node.op_type]]
        if x is None or w is None or out is None:
            return None, 0
        n = len(w) - 2
        pads = list(attrs.get("pads", [0] * 2 * n))
        stride, dil = list(attrs.get("strides", [1] * n)), list(attrs.get("dilations", [1] * n))
        if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET", b"VALID", "VALID"):  # SAME_*: derive pads
            pads = [
                max(0, (out[2 + i] - 1) * stride[i] + (w[2 + i] - 1) * dil[i] + 1 - x[2 + i]) // 2 for i in range(n)
            ]
        dense = 2 * math.prod(out) * math.prod(w[1:])
        return conv_flops(x, w, out, stride, pads[:n], dil), dense
    if node.op_type in MATMUL_OPS:
        a = ins[0]
        if a is None or out is None:
            return None, 0
        k = a[0] if node.op_type == "Gemm" and attrs.get("transA", 0) else a[-1]
        return 2 * math.prod(out) * k, 0
    if node.op_type in RNN_OPS:
        x, w, r = ins[0], ins[1], ins[2]
        if x is None or w is None or r is None:
            return None, 0
        seq, batch = (x[1], x[0]) if attrs.get("layout", 0) else (x[0], x[1])
        return 2 * seq * batch * (math.prod(w) + math.prod(r)), 0
    return None, 0
