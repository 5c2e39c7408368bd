"""`bench doctor`: which engines and precisions this machine can run, and for each one it cannot, why.

In the spirit of `yolo checks` and torch's `collect_env`. Three parts:

- `probe()` collects the facts (GPU, torch's CUDA, onnxruntime and its providers, TensorRT, ModelOpt and the
  CUDA major each installed package is built for) without running a model; `engine_checks(probe)` turns them
  into one row per (engine, device, precision, provider) of the formats table, each available or with its
  reasons: library missing, provider built in but not loadable (and which library it lacks), CUDA majors that
  disagree, no GPU. Pure logic over a `Probe`, so it is tested with fabricated ones.
- `check_gpu_stack()` resolves the `gpu` extra with pip's resolver against the public package index alone
  (`pip install --dry-run --report --isolated --index-url https://pypi.org/simple`; wheels' metadata only, no
  downloads of the CUDA wheels) and fails when the packages it would install are built for different CUDA majors
  or include TensorRT (whose wheels come from NVIDIA's index: the `tensorrt` extra's). The `tensorrt` extra is
  checked by its names (its PyPI packages are stubs that download the real wheels from NVIDIA's index just to
  tell their metadata): one CUDA major with the rest, and a floor of TensorRT 10.15, the release
  onnxruntime-gpu's CUDA 13 builds link. `stack_verdict(report)` is the logic, on pip's JSON report.
- `gpu_check(out)`: on a GPU machine, every GPU test (JUnit XML; a skipped GPU test, or none collected, fails
  the check), a training, a 2-process DDP step, a compare of every GPU engine and precision (int8 and tf32
  included), torch.compile and predict, each in its time box, and an evidence folder a reviewer can read without
  the machine (`nvidia-smi -q`, driver and CUDA versions, `pip freeze`, each step's log as text, TensorRT's
  per-layer precision, ONNX Runtime's node placement, the compare records).
"""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from engines import formats
from mldrnet.errors import BenchError

ROOT = Path(__file__).resolve().parents[1]  # the checkout (pyproject.toml, tests/) when bench runs from one

# --- the CUDA major a package is built for ----------------------------------------------------------------

# packages whose own version's major is the CUDA major (nvidia-cufft 12.x, nvidia-cusparse 12.x, nvidia-curand 10.x
# are CUDA 13 libraries: their majors are their own, so they are not in this list)
VERSION_IS_CUDA = frozenset(
    {
        "cuda-toolkit",
        "cuda-bindings",
        "cuda-python",
        "nvidia-cuda-runtime",
        "nvidia-cuda-nvrtc",
        "nvidia-cuda-cupti",
        "nvidia-cuda-nvcc",
        "nvidia-nvjitlink",
        "nvidia-cublas",
        "nvidia-nvtx",
    }
)
_MAJOR_OPERATORS = ("===", "==", "~=", ">=")  # specifiers whose version's major is the package's


def normalize(name: str) -> str:
    """PEP 503's normalized project name (nvidia_cudnn.Cu13 -> nvidia-cudnn-cu13)."""
    return canonicalize_name(name)


def requirement_name(requirement: str) -> str:
    """The project name of a PEP 508 requirement string (`torch>=2.6; extra == "x"` -> torch)."""
    return Requirement(requirement).name


def cuda_major_of_name(name: str, version: str | None = None) -> int | None:
    """From a name (tensorrt-cu13, nvidia-cudnn-cu12, tensorrt_cu13_libs, cupy-cuda12x, torch's cu130 local
    version) or, for VERSION_IS_CUDA packages, the version; None when the name says nothing about CUDA."""
    n = normalize(name)
    m = re.search(r"-cu(\d{2,3})(?:-|$)", n) or re.match(r"cupy-cuda(\d{2,3})x$", n)
    if m:
        digits = m.group(1)
        return int(digits[:2]) if len(digits) == 3 else int(digits)
    if n in VERSION_IS_CUDA and version:
        v = re.match(r"\d+", version)
        return int(v.group()) if v else None
    return None


def cuda_major_of_requirement(requirement: str) -> int | None:
    """`nvidia-cudnn-cu13==9.24; platform_system == "Linux"` -> 13, `nvidia-cuda-runtime~=13.0; extra == "cuda"`
    -> 13, `numpy` -> None (markers are ignored: a package is built for one CUDA whichever extra pulls it). For a
    VERSION_IS_CUDA package, the major of its ===, ==, ~= or >= specifier (the lowest, if several)."""
    try:
        req = Requirement(requirement)
    except InvalidRequirement:
        return None
    if normalize(req.name) not in VERSION_IS_CUDA:
        return cuda_major_of_name(req.name)
    majors = [
        int(m.group(1))
        for sp in req.specifier
        if sp.operator in _MAJOR_OPERATORS and (m := re.match(r"v?(\d+)", sp.version))
    ]
    return cuda_major_of_name(req.name, str(min(majors)) if majors else None)


def package_cuda_major(name: str, version: str | None, requires: list[str] | None) -> tuple[int | None, str]:
    """(CUDA major, how it was told) of one distribution: its own name or version, else the CUDA packages it
    requires (torch -> cuda-toolkit==13.0.3 and nvidia-*-cu13; onnxruntime-gpu -> nvidia-cuda-runtime~=13.0;
    nvidia-modelopt[onnx] -> cupy-cuda12x). (None, "") when nothing says."""
    own = cuda_major_of_name(name, version)
    if own is not None:
        return own, "its name" if cuda_major_of_name(name) is not None else "its version"
    local = re.search(r"\+cu(\d{2,3})", version or "")  # torch 2.14.1+cu130
    if local:
        return cuda_major_of_name(f"x-cu{local.group(1)}"), f"its version {version}"
    found: dict[int, str] = {}
    for req in requires or []:
        major = cuda_major_of_requirement(req)
        if major is not None:
            found.setdefault(major, req.split(";")[0].strip())
    if not found:
        return None, ""
    if len(found) > 1:  # a package asking for two CUDA majors: report the lowest, the disagreement shows anyway
        return min(found), "requires " + " and ".join(found.values())
    major, req = next(iter(found.items()))
    return major, f"requires {req}"


@dataclass(frozen=True)
class StackCheck:
    ok: bool
    majors: dict[str, int]  # "name version" -> CUDA major, for every package that says which it is built for
    message: str
    why: dict[str, str] = field(default_factory=dict)  # "name version" -> how its major was told

    def to_dict(self) -> dict:
        return asdict(self)


def stack_verdict(report: dict, named: dict[str, int] | None = None) -> StackCheck:
    """Whether pip's resolver report (`pip install --dry-run --report`) is one CUDA stack. `named`: packages left
    out of the resolution whose name says their CUDA major (tensorrt-cu13 -> 13)."""
    majors: dict[str, int] = dict(named or {})
    why = {k: "its name" for k in majors}
    for item in report.get("install", []):
        meta = item.get("metadata", {})
        name, version = meta.get("name", "?"), meta.get("version")
        major, how = package_cuda_major(name, version, meta.get("requires_dist"))
        if major is not None:
            key = f"{name} {version}" if version else name
            majors[key], why[key] = major, how
    groups: dict[int, list[str]] = {}
    for key, major in majors.items():
        groups.setdefault(major, []).append(key)
    if not groups:
        return StackCheck(False, majors, "no package of the gpu extra says which CUDA it is built for", why)
    if len(groups) == 1:
        major = next(iter(groups))
        return StackCheck(True, majors, f"one CUDA stack: CUDA {major} ({len(majors)} packages)", why)
    parts = [
        f"CUDA {m}: {', '.join(sorted(keys)[:6])}{' ...' if len(keys) > 6 else ''}"
        for m, keys in sorted(groups.items(), reverse=True)
    ]
    return StackCheck(False, majors, "the gpu extra mixes CUDA majors: " + "; ".join(parts), why)


def _project(pyproject: str | Path | None) -> dict:
    import tomllib

    path = Path(pyproject) if pyproject else ROOT / "pyproject.toml"
    if not path.is_file():
        raise BenchError(f"{path} does not exist: the stack check reads the gpu extra from a checkout's pyproject.toml")
    return tomllib.loads(path.read_text())["project"]


def gpu_extra(pyproject: str | Path | None = None) -> tuple[list[str], list[str]]:
    """(the gpu extra's requirements, the project's torch/torchvision requirements) from pyproject.toml."""
    project = _project(pyproject)
    torch_reqs = [
        r for r in project.get("dependencies", []) if normalize(requirement_name(r)) in ("torch", "torchvision")
    ]
    return list(project.get("optional-dependencies", {}).get("gpu", [])), torch_reqs


def tensorrt_extra(pyproject: str | Path | None = None) -> list[str]:
    """The tensorrt extra's requirements from pyproject.toml."""
    return list(_project(pyproject).get("optional-dependencies", {}).get("tensorrt", []))


TENSORRT_FLOOR = "10.15"  # the TensorRT onnxruntime-gpu's CUDA 13 builds link (libnvinfer.so.10 of 10.15+)
PUBLIC_INDEX = "https://pypi.org/simple"


def tensorrt_problems(requirements: list[str]) -> list[str]:
    """What is wrong with the tensorrt extra: no TensorRT in it, or a floor below TENSORRT_FLOOR."""
    from packaging.version import Version

    trt = [r for r in requirements if normalize(requirement_name(r)).startswith("tensorrt")]
    if not trt:
        return ["the tensorrt extra names no TensorRT package"]
    problems = []
    for req in trt:
        floors = [Version(sp.version) for sp in Requirement(req).specifier if sp.operator in (">=", "==", "~=", "===")]
        if not floors or max(floors) < Version(TENSORRT_FLOOR):
            problems.append(
                f"the tensorrt extra's {req} allows TensorRT below {TENSORRT_FLOOR}, the release onnxruntime-gpu's "
                "CUDA 13 builds link"
            )
    return problems


class ResolverUnavailable(BenchError):
    """pip could not reach the package index (offline): the check could not run, which is not a failure of the stack."""


_OFFLINE = (
    "NewConnectionError",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "Max retries exceeded",
    "ConnectTimeout",
    "ReadTimeout",
    "No matching distribution found",
)


def resolve(
    requirements: list[str],
    pip: list[str] | None = None,
    timeout: float = 600,
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
    index: str | None = PUBLIC_INDEX,
) -> dict:
    """pip's resolver report for `requirements` (`pip install --dry-run --ignore-installed --report -`): nothing
    is installed, and wheels' metadata is read without downloading them (PEP 658). With `index` (default: the
    public index), pip reads no configuration file and no PIP_* variable (no extra index, no find-links) and
    resolves from that index alone; `foreign_sources` then checks where each package came from."""
    cmd = [
        *(pip or [sys.executable, "-m", "pip"]),
        "install",
        "--dry-run",
        "--ignore-installed",
        "--quiet",
        "--disable-pip-version-check",
        *(["--index-url", index] if index else []),
        "--report",
        "-",
        *requirements,
    ]
    # no pip configuration file (PIP_CONFIG_FILE=os.devnull) and no PIP_* variable: no extra index, find-links or
    # mirror of this machine's can answer for the public index
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")} if index else None
    if env is not None:
        env["PIP_CONFIG_FILE"] = os.devnull
    try:
        done = run(cmd, capture_output=True, text=True, timeout=timeout, **({"env": env} if env is not None else {}))
    except subprocess.TimeoutExpired as e:
        raise ResolverUnavailable(f"pip's resolver took more than {timeout:.0f} s (a slow or unreachable index)") from e
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if ln.strip() and not ln.startswith("WARNING: Location")]
        last = lines[-1].strip() if lines else f"exit code {done.returncode}"
        if any(s in done.stderr for s in _OFFLINE):
            raise ResolverUnavailable(f"pip cannot resolve the gpu extra here (offline?): {last}")
        raise BenchError(f"pip cannot resolve the gpu extra from {index or 'the configured index'}: {last}")
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError as e:
        raise BenchError(f"pip's resolver report is not JSON: {done.stdout[:200]!r}") from e


def check_gpu_stack(
    pyproject: str | Path | None = None,
    pip: list[str] | None = None,
    timeout: float = 600,
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
) -> StackCheck:
    """Resolve the gpu extra (with the project's torch pin) from the public index alone and check that it is one
    CUDA stack without TensorRT in it; check the tensorrt extra by its names (CUDA major, the 10.15 floor).

    Requirements whose name says their CUDA major (tensorrt-cu13) are taken by name and left out of the
    resolution: TensorRT's packages on the index are source stubs that download the real multi-GB wheel from
    NVIDIA's index just to tell their metadata."""
    gpu, torch_reqs = gpu_extra(pyproject)
    trt = tensorrt_extra(pyproject)
    named, resolved = {}, []
    for req in [*gpu, *trt]:
        name = requirement_name(req)
        major = cuda_major_of_name(name)
        if major is not None and normalize(name).startswith("tensorrt"):
            named[req] = major
        else:
            resolved.append(req)
    report = resolve(resolved + torch_reqs, pip=pip, timeout=timeout, run=run) if resolved + torch_reqs else {}
    verdict = stack_verdict(report, named)
    problems = tensorrt_problems(trt)
    in_gpu = [f"{i['metadata'].get('name')}" for i in report.get("install", []) if _is_tensorrt(i)]
    in_gpu += [r for r in gpu if normalize(requirement_name(r)).startswith("tensorrt")]
    foreign = foreign_sources(report)
    if foreign:
        problems.append(
            f"{len(foreign)} package(s) of the gpu extra did not come from the public index: {'; '.join(foreign[:3])}"
        )
    if in_gpu:
        problems.append(
            f"the gpu extra pulls TensorRT ({', '.join(sorted(set(in_gpu)))}), whose wheels come from NVIDIA's "
            "index, not the public one: TensorRT belongs to the tensorrt extra"
        )
    if not problems:
        extra = f"; tensorrt extra: {', '.join(trt)} (NVIDIA's index)" if trt else ""
        return replace(verdict, message=f"{verdict.message}; the gpu extra resolves from {PUBLIC_INDEX}{extra}")
    return replace(verdict, ok=False, message="; ".join([*([verdict.message] if not verdict.ok else []), *problems]))


PUBLIC_HOSTS = frozenset({"pypi.org", "files.pythonhosted.org"})


def foreign_sources(report: dict) -> list[str]:
    """'name version from URL' for each package of pip's report that came from elsewhere than the public index."""
    from urllib.parse import urlparse

    found = []
    for item in report.get("install", []):
        url = str((item.get("download_info") or {}).get("url") or "")
        if url and urlparse(url).hostname not in PUBLIC_HOSTS:
            meta = item.get("metadata", {})
            found.append(f"{meta.get('name')} {meta.get('version')} from {url}")
    return found


def _is_tensorrt(item: dict) -> bool:
    return normalize(str(item.get("metadata", {}).get("name", ""))).startswith("tensorrt")


# --- this machine ---------------------------------------------------------------------------------------------


@dataclass
class Probe:
    """What this machine has, as far as the engines are concerned (fabricated in tests)."""

    torch: str
    torch_cuda: str | None  # torch.version.cuda: None for a CPU build
    gpu: str | None  # the GPU's name, None when torch sees none
    onnxruntime: str | None = None  # version; None when not importable
    ort_providers: list[str] = field(default_factory=list)  # get_available_providers(): what the wheel contains
    ort_load_errors: dict[str, str | None] = field(default_factory=dict)  # provider -> why its library does not load
    ort_cuda_major: int | None = None  # the CUDA major the installed onnxruntime-gpu is built for
    tensorrt: str | None = None  # version; None when not installed
    tensorrt_cuda_major: int | None = None
    modelopt: bool = False
    openvino: str | None = None  # version; None when not installed
    nncf: bool = False  # OpenVINO int8 quantization
    cpu_bf16: bool = False  # native bf16 (AVX512_BF16 / AMX): OpenVINO's bf16 rows

    @property
    def torch_cuda_major(self) -> int | None:
        return int(self.torch_cuda.split(".")[0]) if self.torch_cuda else None

    def to_dict(self) -> dict:
        return asdict(self)


def _dist(*names: str) -> md.Distribution | None:
    for name in names:
        try:
            return md.distribution(name)
        except md.PackageNotFoundError:
            continue
    return None


def probe() -> Probe:
    import torch

    from engines.base import tensorrt_version

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    p = Probe(torch.__version__, torch.version.cuda, gpu)
    if importlib.util.find_spec("onnxruntime") is not None:
        try:
            import onnxruntime as ort
        except Exception:  # noqa: BLE001 - a broken install is a reason, not a crash
            ort = None
        if ort is not None:
            from engines.onnx_engine import PROVIDER_LIBRARIES, provider_load_error

            p.onnxruntime = ort.__version__
            p.ort_providers = list(ort.get_available_providers())
            p.ort_load_errors = {
                name: provider_load_error(ort, name) for name in PROVIDER_LIBRARIES if name in p.ort_providers
            }
    dist = _dist("onnxruntime-gpu")
    if dist is not None:
        p.ort_cuda_major = package_cuda_major(dist.metadata["Name"], dist.version, dist.requires)[0]
    p.tensorrt = tensorrt_version()
    if p.tensorrt is not None:
        trt = _dist("tensorrt-cu13", "tensorrt-cu12", "tensorrt_cu13_libs", "tensorrt_cu12_libs", "tensorrt")
        if trt is not None:
            p.tensorrt_cuda_major = package_cuda_major(trt.metadata["Name"], trt.version, trt.requires)[0]
    p.modelopt = importlib.util.find_spec("modelopt") is not None
    ov = _dist("openvino")
    p.openvino = ov.version if ov is not None else None
    p.nncf = _dist("nncf") is not None
    p.cpu_bf16 = _cpu_has_bf16()
    return p


def _cpu_has_bf16() -> bool:
    from engines.base import BF16_FLAGS, cpu_flags

    return bool(cpu_flags() & BF16_FLAGS)


@dataclass(frozen=True)
class EngineCheck:
    engine: str
    device: str
    precision: str
    provider: str | None
    available: bool
    reasons: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        provider = f"/{self.provider}" if self.provider else ""
        return f"{self.engine}{provider} {self.device} {self.precision}"

    def to_dict(self) -> dict:
        return {**asdict(self), "reasons": list(self.reasons), "label": self.label}


ORT_PROVIDERS = {"cpu": ("cpu",), "cuda": ("cuda", "tensorrt")}
ORT_NAMES = {"cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}


def _combinations():
    """(engine, device, precision, provider) for every row of the formats table that an engine runs."""
    for fmt in formats.FORMATS:
        for device in fmt.devices:
            for precision in fmt.precisions:
                providers = ORT_PROVIDERS[device] if fmt.engine == "onnxruntime" else (None,)
                for provider in providers:
                    if precision == "tf32" and device != "cuda":
                        continue
                    if fmt.engine == "onnxruntime" and precision == "fp16" and provider != "tensorrt":
                        continue
                    yield fmt.engine, device, precision, provider


def _gpu_reasons(p: Probe) -> list[str]:
    if p.torch_cuda is None:
        return [
            f"torch {p.torch} is a CPU build (no CUDA): the gpu extra brings onnxruntime-gpu, not torch; on an "
            "NVIDIA GPU machine reinstall torch and torchvision at pyproject.toml's pins from PyPI, whose Linux wheels "
            "are the CUDA 13 builds (pip install --force-reinstall 'torch==PIN' 'torchvision==PIN' "
            "--index-url https://pypi.org/simple)"
        ]
    if p.gpu is None:
        return ["no CUDA GPU (torch.cuda.is_available() is False)"]
    return []


def _majors_disagree(what: str, major: int | None, p: Probe) -> list[str]:
    if major is not None and p.torch_cuda_major is not None and major != p.torch_cuda_major:
        return [f"CUDA majors disagree: {what} is built for CUDA {major}, torch for CUDA {p.torch_cuda_major}"]
    return []


def _ort_provider_reasons(p: Probe, provider: str) -> list[str]:
    from engines.onnx_engine import explain_missing, missing_library

    name = ORT_NAMES[provider]
    if name not in p.ort_providers:
        return [
            f"the CPU onnxruntime wheel is installed (no {name}): install onnxruntime-gpu in its place "
            "(pip uninstall onnxruntime && pip install 'bench-mldrnet[gpu]')"
        ]
    error = p.ort_load_errors.get(name)
    if error:
        library = missing_library(error)
        return [f"{name} is built in but not loadable: {explain_missing(library) if library else error}"]
    return []


def engine_checks(p: Probe) -> list[EngineCheck]:
    rows = []
    for engine, device, precision, provider in _combinations():
        reasons: list[str] = []
        if engine == "torch":
            if device == "cuda":
                reasons += _gpu_reasons(p)
        elif engine == "onnxruntime":
            if p.onnxruntime is None:
                reasons.append(
                    "onnxruntime is not installed: pip install 'bench-mldrnet[cpu]' (onnxruntime, OpenVINO), or "
                    "'bench-mldrnet[gpu]' on an NVIDIA GPU machine (onnxruntime-gpu; never both)"
                )
            elif device == "cuda":
                reasons += _ort_provider_reasons(p, provider)
                reasons += _majors_disagree(f"onnxruntime-gpu {p.onnxruntime}", p.ort_cuda_major, p)
            if device == "cuda":
                reasons += _gpu_reasons(p)
                if provider == "tensorrt" and p.tensorrt is None:
                    reasons.append(
                        "TensorRT is not installed (ORT's TensorRT provider needs its libraries): "
                        "pip install 'bench-mldrnet[tensorrt]' from NVIDIA's index (README)"
                    )
        elif engine == "openvino":
            if p.openvino is None:
                reasons.append("openvino is not installed (pip install 'bench-mldrnet[cpu]')")
            if precision == "int8" and not p.nncf:
                reasons.append(
                    "nncf is not installed: OpenVINO int8 is quantized with NNCF (pip install 'bench-mldrnet[cpu]')"
                )
            if precision == "bf16" and not p.cpu_bf16:
                reasons.append("this CPU has no native bf16 (AVX512_BF16 or AMX): bench never runs a silent emulation")
        elif engine == "tensorrt":
            if p.tensorrt is None:
                reasons.append(
                    "the tensorrt package is not installed (pip install 'bench-mldrnet[tensorrt]', from NVIDIA's "
                    "index or a prepared wheelhouse: README)"
                )
            else:
                reasons += _majors_disagree(f"TensorRT {p.tensorrt}", p.tensorrt_cuda_major, p)
                # int8 is built from ONNX Runtime's Q/DQ file and fp16 (TensorRT >= 10.12) from an fp16 copy of the
                # ONNX (ModelOpt's where installed, else ONNX Runtime's converter): no precision needs ModelOpt
            reasons += _gpu_reasons(p)
        rows.append(EngineCheck(engine, device, precision, provider, not reasons, tuple(dict.fromkeys(reasons))))
    return rows


def report(p: Probe | None = None) -> dict[str, Any]:
    """The whole doctor answer as JSON-able data."""
    p = p or probe()
    rows = engine_checks(p)
    return {
        "machine": p.to_dict(),
        "engines": [r.to_dict() for r in rows],
        "available": [r.label for r in rows if r.available],
    }


# --- bench doctor --gpu-check ---------------------------------------------------------------------------------

GPU_CHECK_SECONDS = 15 * 60
GPU_CHECK_ENGINES = "torch-cuda,ort-cuda,ort-trt,trt"
GPU_CHECK_PRECISIONS = "fp32,fp16,tf32,int8"


@dataclass(frozen=True)
class Step:
    """One step of --gpu-check: a command (or a function making it once the earlier steps ran) in its time box,
    and a judge that turns its exit code and log into problems (none: the step passed)."""

    name: str
    command: list[str] | Callable[[], list[str]]
    seconds: float
    judge: Callable[[int | None, str], list[str]] | None = None
    env: dict[str, str] = field(default_factory=dict)


def junit_problems(xml: Path, exit_code: int | None) -> list[str]:
    """Why a GPU test run does not count as having run every GPU test: pytest's exit code 5 (nothing collected),
    a missing or unreadable JUnit report, failures, errors, and any skipped test (a skipped GPU test did not run)."""
    import xml.etree.ElementTree as ET

    if exit_code == 5:
        return ["pytest collected no GPU test (exit code 5): nothing was checked"]
    try:
        root = ET.parse(xml).getroot()
    except (OSError, ET.ParseError) as e:
        return [f"no JUnit report at {xml} ({e}): the GPU tests did not run to the end"]
    cases = root.findall(".//testcase")
    problems = []
    if not cases:
        problems.append("the JUnit report holds no test case: nothing was checked")
    for case in cases:
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        for kind, verb in (("failure", "failed"), ("error", "errored"), ("skipped", "was skipped")):
            found = case.find(kind)
            if found is not None:
                why = (found.get("message") or found.text or "").strip().splitlines()
                problems.append(f"{name} {verb}{f': {why[0][:200]}' if why else ''}")
    if exit_code not in (0, None) and not problems:
        problems.append(f"pytest exited with code {exit_code}")
    return problems


def compare_errors(records_json: Path) -> list[str]:
    """'<variant> <precision> batch <b>: <error>' for every error row of a compare run (or why there are none)."""
    try:
        records = json.loads(Path(records_json).read_text())["records"]
    except (OSError, ValueError, KeyError) as e:
        return [f"no compare records at {records_json}: {e}"]
    if not records:
        return ["the compare wrote no rows"]
    return [f"{r['variant']} {r['precision']} batch {r['batch_size']}: {r['error']}" for r in records if r.get("error")]


def _exit_code(code: int | None, text: str) -> list[str]:
    if code is None:
        return ["timed out"]
    return [] if code == 0 else [f"exit code {code}: {_last_line(text)}"]


def _last_line(text: str) -> str:
    lines = [ln for ln in str(text).splitlines() if ln.strip()]
    return lines[-1].strip()[:300] if lines else "(no output)"


def _first_image(folder: Path) -> str:
    for suffix in ("*.png", "*.jpg", "*.jpeg"):
        for path in sorted(folder.rglob(suffix)):
            return str(path)
    return str(folder / "no-image-found.png")  # predict then fails, saying which file: the step reports it


def ddp_device() -> str:
    """Two DDP processes need two GPUs under nccl (one GPU cannot hold two ranks); with one GPU the 2-process
    step runs on the CPU (gloo), which still checks the per-step all-reduce and the sharded evaluation."""
    import torch

    return "cuda" if torch.cuda.device_count() >= 2 else "cpu"


def gpu_check_steps(out: Path, python: str = sys.executable, device_for_ddp: str | None = None) -> list[Step]:
    """Each step with its time box: every GPU test, a quick MldrNet trained at a tiny size on the synthetic set,
    a 2-process DDP step, a compare of every GPU engine and precision (int8 and tf32 included), torch.compile,
    predict through TensorRT and ONNX Runtime's CUDA provider, and TensorRT's per-layer precision."""
    results, evidence = out / "results", out / "evidence"
    bench = [python, "-m", "bench"]
    small = ["--crop", "64", "--synth-n", "480", "--synth-size", "72", "--batch-size", "32", "--workers", "0"]
    compare = [*bench, "compare", "--models", "mldrnet", "--time-budget", "0.5", "--max-test-images", "256"]
    compare += ["--no-plots", "--results-dir", str(results)]

    def predict() -> list[str]:
        image = _first_image(results / "data")
        return [*bench, "predict", image, "--model", "mldrnet", "--results-dir", str(results), "--json"]

    ddp = device_for_ddp or ddp_device()
    return [
        Step(
            "pytest-gpu",
            [python, "-m", "pytest", "-q", "-rs", "-m", "gpu", "-p", "no:cacheprovider"]
            + [f"--junitxml={evidence / 'junit-gpu.xml'}", str(ROOT / "tests")],
            240,
            lambda code, text: junit_problems(evidence / "junit-gpu.xml", code),
        ),
        Step(
            "train",
            [*bench, "train", "mldrnet", "--epochs", "2", *small, "--device", "cuda", "--no-progress"]
            + ["--results-dir", str(results)],
            120,
        ),
        Step(
            "ddp-2-process",
            [python, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
            + ["-m", "bench", "train", "mldrnet", "--epochs", "1", *small, "--device", ddp, "--no-progress"]
            + ["--results-dir", str(out / "ddp-results")],
            120,
        ),
        Step(
            "compare",
            [*compare, "--engines", GPU_CHECK_ENGINES, "--precisions", GPU_CHECK_PRECISIONS]
            + ["--batch-sizes", "1,32", "--out", str(out / "compare")],
            300,
            lambda code, text: _exit_code(code, text) or compare_errors(out / "compare" / "records.json"),
        ),
        Step(
            "torch-compile",
            [*compare, "--engines", "torch-cuda-compile", "--precisions", "fp32", "--batch-sizes", "1"]
            + ["--out", str(out / "compare-compile")],
            180,
            lambda code, text: _exit_code(code, text) or compare_errors(out / "compare-compile" / "records.json"),
        ),
        Step("predict-tensorrt", lambda: [*predict(), "--engine", "tensorrt", "--precision", "fp16"], 60),
        Step("predict-ort-cuda", lambda: [*predict(), "--engine", "onnxruntime", "--device", "cuda"], 60),
        Step(
            "tensorrt-layers",
            [python, "-m", "bench.doctor", "tensorrt-layers", str(results), str(evidence / "tensorrt-layers.json")],
            90,
        ),
    ]


def as_text(value: object) -> str:
    """A subprocess's output as text, whatever it came as: a timed-out run hands back bytes even with text=True."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def collect_environment(
    evidence: Path, run: Callable[..., subprocess.CompletedProcess] = subprocess.run, python: str = sys.executable
) -> dict:
    """nvidia-smi -q, the driver and CUDA versions, pip freeze and the probe, written under `evidence`."""
    import torch

    evidence.mkdir(parents=True, exist_ok=True)

    def capture(cmd: list[str], timeout: float = 60) -> str:
        try:
            done = run(cmd, capture_output=True, text=True, timeout=timeout)
            return as_text(done.stdout) + as_text(done.stderr)
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"{' '.join(cmd)}: {e}"

    smi = capture(["nvidia-smi", "-q"])
    (evidence / "nvidia-smi-q.txt").write_text(smi)
    (evidence / "pip-freeze.txt").write_text(capture([python, "-m", "pip", "freeze", "--all"], 120))
    driver = re.search(r"Driver Version\s*:\s*(\S+)", smi)
    cuda = re.search(r"CUDA Version\s*:\s*(\S+)", smi)
    versions = {
        "driver": driver.group(1) if driver else None,
        "cuda_driver": cuda.group(1) if cuda else None,
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "capability": [list(torch.cuda.get_device_capability(i)) for i in range(torch.cuda.device_count())],
        "machine": probe().to_dict(),
    }
    (evidence / "versions.json").write_text(json.dumps(versions, indent=2))
    return versions


def placement_evidence(records_json: Path, dst: Path) -> None:
    """Per compare row, what ran it: provider, ONNX Runtime's node placement, TF32 state, profiles, layers'
    precisions (from each record's engine_info), as one JSON file a reviewer reads without the machine."""
    try:
        records = json.loads(Path(records_json).read_text())["records"]
    except (OSError, ValueError, KeyError) as e:
        dst.write_text(json.dumps({"error": f"no compare records at {records_json}: {e}"}))
        return
    keep = ("provider", "node_placement", "cpu_fallback", "tf32", "profiles", "layer_precisions", "strongly_typed")
    rows = [
        {
            "row": f"{r.get('variant')} {r.get('precision')} batch {r.get('batch_size')}",
            "error": r.get("error"),
            **{k: (r.get("engine_info") or {}).get(k) for k in keep if k in (r.get("engine_info") or {})},
        }
        for r in records
    ]
    dst.write_text(json.dumps(rows, indent=2))


def gpu_check(
    out: str | Path,
    budget_s: float = GPU_CHECK_SECONDS,
    has_gpu: Callable[[], bool] | None = None,
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
    progress: Callable[[str], None] = lambda s: None,
    steps: list[Step] | None = None,
) -> dict:
    """Run the GPU checks, each step in its time box and all within `budget_s`; each step's output goes to
    OUT/logs/<step>.log (text), the evidence to OUT/evidence/, a summary to OUT/gpu-check.json. BenchError (one
    line) on a machine without a GPU, before anything is written."""
    if has_gpu is None:
        import torch

        has_gpu = torch.cuda.is_available
    if not has_gpu():
        raise BenchError(
            "no CUDA GPU on this machine (torch.cuda.is_available() is False): `bench doctor "
            "--gpu-check` runs on a machine with an NVIDIA GPU"
        )
    out = Path(out)
    logs, evidence = out / "logs", out / "evidence"
    logs.mkdir(parents=True, exist_ok=True)
    versions = collect_environment(evidence, run)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    deadline = time.monotonic() + budget_s
    results = []
    for step in steps if steps is not None else gpu_check_steps(out):
        left = deadline - time.monotonic()
        if left < 10:
            results.append({"step": step.name, "ok": False, "problems": ["no time left within the budget"]})
            continue
        limit = max(10.0, min(left, step.seconds))
        cmd = step.command() if callable(step.command) else step.command
        progress(f"{step.name}: {' '.join(cmd[1:])} (at most {limit:.0f} s)")
        started = time.monotonic()
        try:
            done = run(cmd, capture_output=True, text=True, timeout=limit, cwd=str(ROOT), env={**env, **step.env})
            code, text = done.returncode, as_text(done.stdout) + as_text(done.stderr)
        except subprocess.TimeoutExpired as e:
            code, text = None, f"timed out after {limit:.0f} s\n{as_text(e.stdout)}{as_text(e.stderr)}"
        (logs / f"{step.name}.log").write_text(text)
        problems = (step.judge or _exit_code)(code, text)
        results.append(
            {
                "step": step.name,
                "ok": not problems,
                "exit_code": code,
                "seconds": round(time.monotonic() - started, 1),
                "command": cmd,
                "problems": problems,
                "tail": [ln for ln in text.splitlines() if ln.strip()][-3:],
            }
        )
        progress(f"{step.name}: {'ok' if not problems else 'FAILED'} ({results[-1]['seconds']} s)")
    placement_evidence(out / "compare" / "records.json", evidence / "placement.json")
    summary = {
        "ok": bool(results) and all(r["ok"] for r in results),
        "out": str(out),
        "steps": results,
        "versions": versions,
    }
    (out / "gpu-check.json").write_text(json.dumps(summary, indent=2))
    return summary


def dump_tensorrt_layers(results: Path, dst: Path) -> int:
    """Each TensorRT engine under `results`: its layers with their precision (the engine inspector), to `dst`."""
    from engines.base import EngineOptions, create_engine
    from engines.tensorrt_build import read_engine_meta

    found = {}
    for path in sorted(Path(results).rglob("*.engine")):
        precision = read_engine_meta(path)[1]["precision"]
        engine = create_engine("tensorrt", path, EngineOptions(device="cuda", precision=precision))
        found[str(path)] = {"precision": precision, "layers": engine.layers()}  # type: ignore[attr-defined]
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    Path(dst).write_text(json.dumps(found, indent=2))
    if not found:
        print(f"no TensorRT engine under {results}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # python -m bench.doctor tensorrt-layers RESULTS DST (a --gpu-check step)
    if len(sys.argv) == 4 and sys.argv[1] == "tensorrt-layers":
        sys.exit(dump_tensorrt_layers(Path(sys.argv[2]), Path(sys.argv[3])))
    sys.exit("usage: python -m bench.doctor tensorrt-layers RESULTS DST")
