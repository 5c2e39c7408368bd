"""`bench doctor`: which engines and precisions this machine can run, and for each one it cannot, why.

In the spirit of `yolo checks` and torch's `collect_env`. Three parts:

- `probe()` collects the facts (GPU, torch's CUDA, onnxruntime and its providers, TensorRT, ModelOpt and the
  CUDA major each installed package is built for) without running a model; `engine_checks(probe)` turns them
  into one row per (engine, device, precision, provider) of the formats table, each available or with its
  reasons: library missing, provider built in but not loadable (and which library it lacks), CUDA majors that
  disagree, no GPU. Pure logic over a `Probe`, so it is tested with fabricated ones.
- `check_gpu_stack()` resolves the `gpu` extra with pip's resolver without installing anything (`pip install
  --dry-run --report`; wheels' metadata only, no downloads of the CUDA wheels) and fails when the packages it
  would install are built for different CUDA majors. `stack_verdict(report)` is its logic, on pip's JSON report.
- `gpu_check(out)`: on a GPU machine, the GPU tests plus a small compare of a MldrNet trained on the spot.
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
from dataclasses import asdict, dataclass, field
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


def gpu_extra(pyproject: str | Path | None = None) -> tuple[list[str], list[str]]:
    """(the gpu extra's requirements, the project's torch/torchvision requirements) from pyproject.toml."""
    import tomllib

    path = Path(pyproject) if pyproject else ROOT / "pyproject.toml"
    if not path.is_file():
        raise BenchError(f"{path} does not exist: the stack check reads the gpu extra from a checkout's pyproject.toml")
    project = tomllib.loads(path.read_text())["project"]
    torch_reqs = [
        r for r in project.get("dependencies", []) if normalize(requirement_name(r)) in ("torch", "torchvision")
    ]
    return list(project.get("optional-dependencies", {}).get("gpu", [])), torch_reqs


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
) -> dict:
    """pip's resolver report for `requirements` (`pip install --dry-run --ignore-installed --report -`): nothing
    is installed, and wheels' metadata is read without downloading them (PEP 658)."""
    cmd = [
        *(pip or [sys.executable, "-m", "pip"]),
        "install",
        "--dry-run",
        "--ignore-installed",
        "--quiet",
        "--disable-pip-version-check",
        "--report",
        "-",
        *requirements,
    ]
    try:
        done = run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise ResolverUnavailable(f"pip's resolver took more than {timeout:.0f} s (a slow or unreachable index)") from e
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if ln.strip() and not ln.startswith("WARNING: Location")]
        last = lines[-1].strip() if lines else f"exit code {done.returncode}"
        if any(s in done.stderr for s in _OFFLINE):
            raise ResolverUnavailable(f"pip cannot resolve the gpu extra here (offline?): {last}")
        raise BenchError(f"pip cannot resolve the gpu extra: {last}")
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
    """Resolve the gpu extra (with the project's torch pin) and check that it is one CUDA stack.

    Requirements whose name says their CUDA major (tensorrt-cu13) are taken by name and left out of the
    resolution: TensorRT's packages on the index are source stubs that download the real multi-GB wheel from
    NVIDIA's index just to tell their metadata."""
    gpu, torch_reqs = gpu_extra(pyproject)
    named, resolved = {}, []
    for req in gpu:
        name = requirement_name(req)
        major = cuda_major_of_name(name)
        if major is not None and normalize(name).startswith("tensorrt"):
            named[req] = major
        else:
            resolved.append(req)
    report = resolve(resolved + torch_reqs, pip=pip, timeout=timeout, run=run) if resolved + torch_reqs else {}
    return stack_verdict(report, named)


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
        return [f"torch {p.torch} is a CPU build (no CUDA)"]
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
        return [f"the CPU onnxruntime wheel is installed (no {name}): install onnxruntime-gpu in its place"]
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
                    "onnxruntime is not installed (pip install 'bench-mldrnet[cpu]', or [gpu] on a GPU machine)"
                )
            elif device == "cuda":
                reasons += _ort_provider_reasons(p, provider)
                reasons += _majors_disagree(f"onnxruntime-gpu {p.onnxruntime}", p.ort_cuda_major, p)
            if device == "cuda":
                reasons += _gpu_reasons(p)
                if provider == "tensorrt" and p.tensorrt is None:
                    reasons.append("TensorRT is not installed (ORT's TensorRT provider needs its libraries)")
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
                reasons.append("the tensorrt package is not installed (pip install 'bench-mldrnet[gpu]')")
            else:
                reasons += _majors_disagree(f"TensorRT {p.tensorrt}", p.tensorrt_cuda_major, p)
                if int(p.tensorrt.split(".")[0]) >= 11 and precision != "fp32" and not p.modelopt:
                    reasons.append(
                        f"TensorRT 11 builds {precision} from a ModelOpt-converted ONNX: "
                        "nvidia-modelopt is not installed"
                    )
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

GPU_CHECK_SECONDS = 8 * 60
GPU_CHECK_ENGINES = "torch-cuda,ort-cuda,ort-trt,trt"


def gpu_check_steps(out: Path, python: str = sys.executable) -> list[tuple[str, list[str], float]]:
    """(name, command, share of the time budget) of each step: the GPU tests, a quick MldrNet trained at a tiny
    size on the synthetic set, and a compare of the GPU rows (fp32/fp16) with records written under `out`."""
    results = out / "results"
    return [
        ("pytest-gpu", [python, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider", str(ROOT / "tests")], 0.4),
        (
            "train",
            [
                python,
                "-m",
                "bench",
                "train",
                "mldrnet",
                "--epochs",
                "2",
                "--crop",
                "64",
                "--synth-n",
                "480",
                "--synth-size",
                "72",
                "--batch-size",
                "32",
                "--workers",
                "0",
                "--device",
                "cuda",
                "--no-progress",
                "--results-dir",
                str(results),
            ],
            0.2,
        ),
        (
            "compare",
            [
                python,
                "-m",
                "bench",
                "compare",
                "--models",
                "mldrnet",
                "--engines",
                GPU_CHECK_ENGINES,
                "--precisions",
                "fp32,fp16",
                "--batch-sizes",
                "1,32",
                "--time-budget",
                "0.5",
                "--max-test-images",
                "256",
                "--no-plots",
                "--results-dir",
                str(results),
                "--out",
                str(out / "compare"),
            ],
            0.4,
        ),
    ]


def compare_errors(records_json: Path) -> list[str]:
    """'<variant> <precision> batch <b>: <error>' for every error row of a compare run (or why there are none)."""
    try:
        records = json.loads(Path(records_json).read_text())["records"]
    except (OSError, ValueError, KeyError) as e:
        return [f"no compare records at {records_json}: {e}"]
    if not records:
        return ["the compare wrote no rows"]
    return [f"{r['variant']} {r['precision']} batch {r['batch_size']}: {r['error']}" for r in records if r.get("error")]


def gpu_check(
    out: str | Path,
    budget_s: float = GPU_CHECK_SECONDS,
    has_gpu: Callable[[], bool] | None = None,
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
    progress: Callable[[str], None] = lambda s: None,
) -> dict:
    """Run the GPU checks within `budget_s`; each step's output goes to OUT/<step>.log and a summary to
    OUT/gpu-check.json. BenchError (one line) on a machine without a GPU."""
    if has_gpu is None:
        import torch

        has_gpu = torch.cuda.is_available
    if not has_gpu():
        raise BenchError(
            "no CUDA GPU on this machine (torch.cuda.is_available() is False): `bench doctor "
            "--gpu-check` runs on a machine with an NVIDIA GPU"
        )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    deadline = time.monotonic() + budget_s
    steps = []
    for name, cmd, share in gpu_check_steps(out):
        left = deadline - time.monotonic()
        if left < 10:
            steps.append({"step": name, "ok": False, "error": "no time left within the budget"})
            continue
        limit = max(10.0, min(left, budget_s * share if name != "compare" else left))
        progress(f"{name}: {' '.join(cmd[1:])} (at most {limit:.0f} s)")
        started = time.monotonic()
        try:
            done = run(cmd, capture_output=True, text=True, timeout=limit, cwd=str(ROOT), env=env)
            rc, text = done.returncode, (done.stdout or "") + (done.stderr or "")
        except subprocess.TimeoutExpired as e:
            rc, text = None, f"timed out after {limit:.0f} s\n{e.stdout or ''}{e.stderr or ''}"
        (out / f"{name}.log").write_text(text if isinstance(text, str) else str(text))
        ok = rc == 0 or (name == "pytest-gpu" and rc == 5)  # 5: no GPU test collected
        tail = [ln for ln in str(text).splitlines() if ln.strip()][-3:]
        step = {"step": name, "ok": ok, "exit_code": rc, "seconds": round(time.monotonic() - started, 1), "tail": tail}
        if name == "compare" and ok:  # compare records a failing row and goes on: here every row must work
            errors = compare_errors(out / "compare" / "records.json")
            step.update(ok=not errors, row_errors=errors)
            if errors:
                step["tail"] = errors[:3]
        steps.append(step)
        progress(f"{name}: {'ok' if ok else 'FAILED'} ({steps[-1]['seconds']} s)")
    summary = {"ok": all(s["ok"] for s in steps), "out": str(out), "steps": steps, "machine": probe().to_dict()}
    (out / "gpu-check.json").write_text(json.dumps(summary, indent=2))
    return summary
