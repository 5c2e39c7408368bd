"""TensorRT's shared libraries, loaded into the process before ONNX Runtime's TensorRT provider needs them.

onnxruntime-gpu's `libonnxruntime_providers_tensorrt.so` links `libnvinfer.so.10` and `libnvonnxparser.so.10` but
carries no RUNPATH, and `onnxruntime.preload_dlls()` loads only CUDA and cuDNN. The tensorrt wheels put the
libraries in `site-packages/tensorrt_libs/`, where the dynamic loader never looks: they are found only when
`import tensorrt` already ran in the process (it loads them). Without this module ORT would quietly fall back
to its CUDA provider and the row would fail with a misleading "missing library".

`preload_tensorrt()` loads them (RTLD_GLOBAL, libnvinfer first: the others depend on it) from the folder of the
`tensorrt_libs` package, without importing tensorrt (which initialises CUDA). Every session or probe that asks for
the TensorRT provider calls it first (engines.onnx_engine). It never raises: it returns what happened, which the
provider's error message then tells (which library, and why it did not load).
"""

from __future__ import annotations

import ctypes
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "tensorrt_libs"  # the module the tensorrt-cu13 / tensorrt-cu12 library wheels install
# load order: libnvinfer is what the parser and the plugins link
ORDER = ("libnvinfer.so", "libnvinfer_plugin.so", "libnvonnxparser.so")
INSTALL = (
    "install TensorRT's wheels (`pip install 'bench-mldrnet[tensorrt]'`, from NVIDIA's index "
    "https://pypi.nvidia.com or a wheelhouse prepared on a connected machine)"
)


@dataclass
class Preload:
    folder: Path | None = None  # where the libraries were looked for (None: no tensorrt_libs package)
    loaded: list[str] = field(default_factory=list)  # file names loaded
    errors: dict[str, str] = field(default_factory=dict)  # file name -> the loader's error

    @property
    def ok(self) -> bool:
        return self.folder is not None and bool(self.loaded) and not self.errors

    def why_not(self) -> str | None:
        """One line on what failed (None when everything loaded)."""
        if self.folder is None:
            return f"TensorRT's libraries are not installed (no {PACKAGE} package): {INSTALL}"
        if not self.loaded and not self.errors:
            return f"{self.folder} holds no libnvinfer.so: its TensorRT wheel is incomplete: {INSTALL}"
        if self.errors:
            name, error = next(iter(self.errors.items()))
            return f"{name} in {self.folder} does not load ({error})"
        return None


_RESULT: Preload | None = None


def library_folder() -> Path | None:
    """The folder of the tensorrt_libs package (None when it is not installed); found without importing it."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None:
        return None
    locations = list(spec.submodule_search_locations or [])
    if locations:
        return Path(locations[0])
    return Path(spec.origin).parent if spec.origin else None


def _candidates(folder: Path) -> list[Path]:
    """The TensorRT libraries in `folder`, libnvinfer first, one file per library (the versioned soname)."""
    found = []
    for stem in ORDER:
        matches = sorted(p for p in folder.glob(f"{stem}.*") if p.is_file() and not p.name.endswith(".py"))
        if matches:
            found.append(matches[0])  # libnvinfer.so.10 before libnvinfer.so.10.16.1 (the soname ORT asks for)
    return found


def preload_tensorrt(force: bool = False) -> Preload:
    """Load TensorRT's libraries into this process once (later calls return the first result unless `force`)."""
    global _RESULT
    if _RESULT is not None and not force:
        return _RESULT
    result = Preload(folder=library_folder())
    if result.folder is not None:
        for path in _candidates(result.folder):
            try:
                ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
                result.loaded.append(path.name)
            except OSError as e:
                result.errors[path.name] = (str(e).strip().splitlines() or [repr(e)])[0]
    _RESULT = result
    return result
