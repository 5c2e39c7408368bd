"""`bench doctor`: what this machine can run and why not (real on this CPU machine, fabricated GPU machines),
`--json`, the provider-failure classification with a faked onnxruntime, and `--gpu-check` without a GPU."""

import json
import subprocess
import sys
import types

import pytest
import torch
from typer.testing import CliRunner

from bench import doctor
from engines import onnx_engine
from mldrnet.errors import BenchError
from tests.helpers.compare_fakes import cli_app

runner = CliRunner()
app = cli_app()

no_gpu_here = pytest.mark.skipif(torch.cuda.is_available(), reason="checks this machine without a GPU")


def _rows(checks):
    return {(c.engine, c.provider, c.device, c.precision): c for c in checks}


@no_gpu_here
def test_on_this_cpu_machine_cpu_fp32_runs_and_every_cuda_row_says_why_not():
    rows = _rows(doctor.engine_checks(doctor.probe()))
    assert rows[("torch", None, "cpu", "fp32")].available
    assert rows[("onnxruntime", "cpu", "cpu", "fp32")].available
    cuda = [c for c in rows.values() if c.device == "cuda"]
    assert cuda and all(not c.available and c.reasons for c in cuda)
    assert {c.engine for c in cuda} == {"torch", "onnxruntime", "tensorrt"}
    assert ("onnxruntime", "cuda", "cuda", "tf32") in rows and ("torch", None, "cuda", "tf32") in rows
    assert ("onnxruntime", "cpu", "cpu", "fp16") not in rows and ("torch", None, "cpu", "tf32") not in rows


@no_gpu_here
def test_doctor_json_is_valid_and_complete():
    result = runner.invoke(app, ["doctor", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert "torch cpu fp32" in data["available"] and "onnxruntime/cpu cpu fp32" in data["available"]
    assert data["machine"]["torch"] == torch.__version__
    assert all(r["reasons"] for r in data["engines"] if r["device"] == "cuda")
    table = runner.invoke(app, ["doctor"])
    assert table.exit_code == 0 and "what this machine can run" in table.output


GPU_MACHINE = dict(
    torch="2.14.1",
    torch_cuda="13.0",
    gpu="NVIDIA H200",
    onnxruntime="1.31.1",
    ort_providers=["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
    ort_cuda_major=13,
    tensorrt="10.16.1.11",
    tensorrt_cuda_major=13,
    openvino="2026.4.1",
    nncf=True,
    cpu_bf16=True,
)


def test_openvino_rows_say_what_is_missing():
    rows = _rows(
        doctor.engine_checks(doctor.Probe(**{**GPU_MACHINE, "openvino": None, "nncf": False, "cpu_bf16": False}))
    )
    assert "openvino is not installed" in rows[("openvino", None, "cpu", "fp32")].reasons[0]
    assert any("nncf" in r for r in rows[("openvino", None, "cpu", "int8")].reasons)
    assert any("no native bf16" in r for r in rows[("openvino", None, "cpu", "bf16")].reasons)


def test_a_coherent_gpu_machine_runs_every_row():
    rows = doctor.engine_checks(doctor.Probe(**GPU_MACHINE))
    assert all(r.available for r in rows), [r for r in rows if not r.available]


def test_each_reason_a_gpu_row_cannot_run():
    cpu_torch = _rows(doctor.engine_checks(doctor.Probe(**{**GPU_MACHINE, "torch_cuda": None, "gpu": None})))
    assert "is a CPU build" in cpu_torch[("torch", None, "cuda", "fp32")].reasons[0]

    mixed = _rows(doctor.engine_checks(doctor.Probe(**{**GPU_MACHINE, "ort_cuda_major": 12})))
    assert any(
        "CUDA majors disagree: onnxruntime-gpu 1.31.1 is built for CUDA 12, torch for CUDA 13" in r
        for r in mixed[("onnxruntime", "cuda", "cuda", "fp32")].reasons
    )
    assert mixed[("tensorrt", None, "cuda", "fp32")].available

    broken = doctor.Probe(
        **{
            **GPU_MACHINE,
            "ort_load_errors": {
                "TensorrtExecutionProvider": (
                    "libnvinfer.so.10: cannot open shared object file: No such file or directory"
                )
            },
        }
    )
    rows = _rows(doctor.engine_checks(broken))
    (reason,) = rows[("onnxruntime", "tensorrt", "cuda", "fp16")].reasons
    assert reason.startswith("TensorrtExecutionProvider is built in but not loadable: missing library libnvinfer.so.10")
    assert rows[("onnxruntime", "cuda", "cuda", "fp32")].available

    trt11 = _rows(doctor.engine_checks(doctor.Probe(**{**GPU_MACHINE, "tensorrt": "11.4.0.106"})))
    assert "nvidia-modelopt is not installed" in trt11[("tensorrt", None, "cuda", "int8")].reasons[0]
    assert trt11[("tensorrt", None, "cuda", "fp32")].available

    no_ort = _rows(doctor.engine_checks(doctor.Probe(**{**GPU_MACHINE, "onnxruntime": None, "ort_providers": []})))
    assert "onnxruntime is not installed" in no_ort[("onnxruntime", "cpu", "cpu", "fp32")].reasons[0]


def test_probe_classifies_a_faked_onnxruntime(tmp_path, monkeypatch):
    capi = tmp_path / "onnxruntime" / "capi"
    capi.mkdir(parents=True)
    for lib in ("libonnxruntime_providers_cuda.so", "libonnxruntime_providers_shared.so"):
        (capi / lib).write_bytes(b"\x7fELF")
    fake = types.ModuleType("onnxruntime")
    fake.__file__, fake.__version__ = str(tmp_path / "onnxruntime" / "__init__.py"), "1.31.1"
    fake.get_available_providers = lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"]
    monkeypatch.setitem(sys.modules, "onnxruntime", fake)
    monkeypatch.setattr(doctor.importlib.util, "find_spec", lambda name: object())

    def cdll(path, mode=0):
        if path.endswith("providers_cuda.so"):
            raise OSError("libcudnn.so.9: cannot open shared object file: No such file or directory")
        return object()

    monkeypatch.setattr(onnx_engine.ctypes, "CDLL", cdll)
    p = doctor.probe()
    assert p.onnxruntime == "1.31.1" and "libcudnn.so.9" in p.ort_load_errors["CUDAExecutionProvider"]
    p.gpu, p.torch_cuda = "NVIDIA H200", "13.0"
    rows = _rows(doctor.engine_checks(p))
    assert any(
        "CUDAExecutionProvider is built in but not loadable: missing library libcudnn.so.9" in r
        for r in rows[("onnxruntime", "cuda", "cuda", "fp32")].reasons
    )
    assert any(
        "the CPU onnxruntime wheel is installed (no TensorrtExecutionProvider)" in r
        for r in rows[("onnxruntime", "tensorrt", "cuda", "fp32")].reasons
    )


def test_gpu_check_without_a_gpu_is_one_line_and_exit_1(monkeypatch, tmp_path):
    with pytest.raises(BenchError, match="no CUDA GPU on this machine"):
        doctor.gpu_check(tmp_path, has_gpu=lambda: False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = runner.invoke(app, ["doctor", "--gpu-check", "--out", str(tmp_path / "x")])
    assert result.exit_code != 0 and isinstance(result.exception, BenchError)
    assert "\n" not in str(result.exception) and not (tmp_path / "x").exists()


def test_gpu_check_runs_its_steps_within_the_budget_and_writes_a_summary(tmp_path):
    seen = []

    rows = [{"variant": "trt", "precision": "fp16", "batch_size": 1, "error": None}]

    def run(cmd, **kwargs):
        seen.append((cmd, kwargs["timeout"]))
        if "compare" in cmd:  # what compare writes, each row ok or with its error
            folder = tmp_path / "check" / "compare"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "records.json").write_text(json.dumps({"records": rows}))
        return subprocess.CompletedProcess(cmd, 5 if "pytest" in cmd else 0, "1 passed, 0 failed\n", "")

    summary = doctor.gpu_check(tmp_path / "check", has_gpu=lambda: True, run=run, budget_s=480)
    assert summary["ok"] and [s["step"] for s in summary["steps"]] == ["pytest-gpu", "train", "compare"]
    assert all(t <= 480 for _, t in seen)
    compare = seen[2][0]
    assert compare[compare.index("--engines") + 1] == "torch-cuda,ort-cuda,ort-trt,trt"
    assert compare[compare.index("--out") + 1] == str(tmp_path / "check" / "compare")
    assert json.loads((tmp_path / "check" / "gpu-check.json").read_text())["ok"]
    assert (tmp_path / "check" / "train.log").read_text().startswith("1 passed")
    rows.append({"variant": "ort-trt", "precision": "fp32", "batch_size": 32, "error": "asked for Tensorrt..."})
    summary = doctor.gpu_check(tmp_path / "check", has_gpu=lambda: True, run=run, budget_s=480)
    assert not summary["ok"] and summary["steps"][2]["row_errors"] == ["ort-trt fp32 batch 32: asked for Tensorrt..."]
