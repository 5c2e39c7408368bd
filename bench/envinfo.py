"""What a compare run ran on: machine, accelerator, library versions, threads, code version.

Versions come from package metadata where possible, so that recording them does not import onnxruntime or
tensorrt; ONNX Runtime's provider list needs the module and is read only if it is installed.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata as md
import importlib.util
import os
import platform
import subprocess
from pathlib import Path

import torch

import bench
from engines.base import cpu_name


def _version(*dists: str) -> str | None:
    for d in dists:
        try:
            return md.version(d)
        except md.PackageNotFoundError:
            continue
    return None


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # respects taskset / container CPU sets, unlike os.cpu_count()
    except AttributeError:
        return os.cpu_count() or 1


def cpu_capability() -> str | None:
    """The widest vector instruction set PyTorch's CPU kernels use here (e.g. AVX2, AVX512): what an fp32 peak
    and int8 speed-ups depend on."""
    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except (AttributeError, RuntimeError):
        return None


def gpu_name() -> str | None:
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def ort_providers() -> list[str]:
    if importlib.util.find_spec("onnxruntime") is None:
        return []
    import onnxruntime

    return list(onnxruntime.get_available_providers())


def tensorrt_available() -> bool:
    return importlib.util.find_spec("tensorrt") is not None


def git_commit() -> str | None:
    """The commit of the checkout bench runs from ("+dirty" when it has local changes); None if not a git tree."""
    here = Path(bench.__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("+dirty" if dirty else "")


def environment(dataset: str, split_hashes: list[str], threads: int) -> dict:
    return {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "bench_version": bench.__version__,
        "git_commit": git_commit(),
        "host": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu_name(),
        "cpus_usable": usable_cpus(),
        "cpu_capability": cpu_capability(),
        "gpu": gpu_name(),
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "torch": torch.__version__,
        "torchvision": _version("torchvision"),
        "onnx": _version("onnx"),
        "onnxruntime": _version("onnxruntime", "onnxruntime-gpu"),
        "onnxruntime_providers": ort_providers(),
        "tensorrt": _version("tensorrt", "tensorrt-cu13", "tensorrt-cu12"),
        "threads": threads,
        "interop_threads": torch.get_num_interop_threads(),
        "dataset": dataset,
        "split_hashes": sorted(set(split_hashes)),
    }
