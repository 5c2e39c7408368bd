"""ONNX Runtime vs eager PyTorch on the CPU for MldrNet: latency at batch 1, throughput at batch 16.

Both engines get the same pinned thread count (BENCH_THREADS, default torch's) and the same fixed input.
With `--benchmark-enable` the input is the paper's 375 px crop; under the default `--benchmark-disable` each case
runs once at 64 px as a smoke test (a 375 px batch of 16 takes seconds per call on one core).
Run: `pytest tests/benchmarks/test_engines_speed.py --benchmark-enable`; images/s is in each row's extra_info.
"""

import os

import pytest
import torch

from engines.base import EngineOptions, ModelMeta, create_engine
from engines.export import export_onnx_checked
from mldrnet import EMOTIONS, models
from mldrnet.data.transforms import Preprocessing

# default: torch's setting in this process (tests/conftest.py pins 1: the 2 cores are shared, and OpenMP with
# 2 threads on a busy 2-core machine spends most of its time waiting for a descheduled thread)
THREADS = int(os.environ["BENCH_THREADS"]) if os.environ.get("BENCH_THREADS") else None


@pytest.fixture(scope="module")
def size(request) -> int:
    # pytest-benchmark's own rule: --benchmark-enable overrides the --benchmark-disable in addopts
    disabled = request.config.getoption("benchmark_disable") and not request.config.getoption("benchmark_enable")
    return 64 if disabled else 375


@pytest.fixture(scope="module")
def engines(tmp_path_factory, size):
    torch.manual_seed(0)
    model = models.create("mldrnet").eval()
    meta = ModelMeta("mldrnet", EMOTIONS, Preprocessing(crop=size))
    path = tmp_path_factory.mktemp("speed") / "model.onnx"
    export_onnx_checked(model, meta, path, [torch.randn(2, 3, size, size)])
    before = torch.get_num_threads()
    built = {
        "torch": create_engine("torch", model, EngineOptions(threads=THREADS)),
        "onnxruntime": create_engine("onnxruntime", path, EngineOptions(threads=THREADS)),
    }
    yield built
    torch.set_num_threads(before)  # the torch engine pins threads process-wide


def _run(benchmark, engine, batch: torch.Tensor, rounds: int):
    engine(batch)  # first call: allocations, ORT's arena, lazy init
    logits = benchmark.pedantic(engine, args=(batch,), rounds=rounds, iterations=1, warmup_rounds=2)
    assert logits.shape == (batch.shape[0], len(EMOTIONS)) and torch.isfinite(logits).all()
    if benchmark.stats is not None:  # None under --benchmark-disable
        mean = benchmark.stats.stats.mean
        benchmark.extra_info.update(
            ms=round(mean * 1e3, 2),
            images_per_s=round(batch.shape[0] / mean, 1),
            threads=engine.describe()["threads"],
            provider=engine.describe()["provider"],
        )


@pytest.mark.parametrize("name", ["torch", "onnxruntime"])
def test_latency_batch_1(benchmark, engines, size, name):
    _run(benchmark, engines[name], torch.randn(1, 3, size, size), rounds=30)


@pytest.mark.parametrize("name", ["torch", "onnxruntime"])
def test_throughput_batch_16(benchmark, engines, size, name):
    _run(benchmark, engines[name], torch.randn(16, 3, size, size), rounds=8)
