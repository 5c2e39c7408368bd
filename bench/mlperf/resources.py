"""What a row cost the machine, over LoadGen's timed window (psutil, and the kernel's own peak for the process).

- `peak_rss_mb`: the process's peak resident memory so far (getrusage's ru_maxrss: the kernel's high-water mark,
  which no sampling can miss), i.e. everything this process held, the engine included;
- `window_rss_mb`: the largest resident memory sampled during the run (every 20 ms, psutil);
- `cpu_util_pct`: the process's CPU seconds (user + system, all its threads) over the window's wall time, as a
  percentage of the usable cores (100 % = every core busy); `cpu_cores_busy` is the same as a number of cores;
- `device_used_mb`: on a GPU, the device memory in use at the end of the window (all allocators: ONNX Runtime's
  and TensorRT's too, not only torch's), and torch's own peak where torch ran the model.
The engine's load time and file size are measured where the engine is made (runner.py; bench compare: its rows'
load_s, first_call_s, export_s and file_bytes). bench compare meters each row's timing with the same Meter.
"""

from __future__ import annotations

import resource
import sys
import threading
import time
from dataclasses import asdict, dataclass

import psutil

SAMPLE_S = 0.02


@dataclass(frozen=True)
class Usage:
    wall_s: float
    cpu_s: float
    cpu_cores_busy: float
    cpu_util_pct: float
    cores: int
    window_rss_mb: float
    peak_rss_mb: float
    device_used_mb: float | None = None
    device_torch_peak_mb: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def process_peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def resident_mb() -> float:
    """The process's resident memory now (MiB)."""
    return psutil.Process().memory_info().rss / 2**20


def usable_cores() -> int:
    try:
        return len(psutil.Process().cpu_affinity() or []) or psutil.cpu_count() or 1
    except (AttributeError, psutil.Error):
        return psutil.cpu_count() or 1


class Meter:
    """`m.start()` ... `m.stop()` -> Usage: CPU and memory of this process over the window between them."""

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self.process = psutil.Process()
        self.usage: Usage | None = None
        self._rss = 0
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while not self._done.wait(SAMPLE_S):
            self._rss = max(self._rss, self.process.memory_info().rss)

    def start(self) -> None:
        """Begin the window (the SUT calls it at LoadGen's first query: the QSL's preprocessing stays outside)."""
        if self._thread is not None:
            return
        if self.device == "cuda":
            import torch

            torch.cuda.reset_peak_memory_stats()
        self._rss = self.process.memory_info().rss
        self._cpu0 = self.process.cpu_times()
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._sample, name="bench-mlperf-meter", daemon=True)
        self._thread.start()

    def stop(self) -> Usage | None:
        """End the window; the usage over it (None if it never started)."""
        if self._thread is None:
            return None
        wall = time.perf_counter() - self._t0
        cpu1 = self.process.cpu_times()
        self._done.set()
        self._thread.join()
        self._rss = max(self._rss, self.process.memory_info().rss)
        cpu = (cpu1.user - self._cpu0.user) + (cpu1.system - self._cpu0.system)
        cores = usable_cores()
        busy = cpu / wall if wall > 0 else 0.0
        used = torch_peak = None
        if self.device == "cuda":
            import torch

            free, total = torch.cuda.mem_get_info()
            used, torch_peak = (total - free) / 2**20, torch.cuda.max_memory_allocated() / 2**20
        self.usage = Usage(
            wall, cpu, busy, 100.0 * busy / cores, cores, self._rss / 2**20, process_peak_rss_mb(), used, torch_peak
        )
        return self.usage
