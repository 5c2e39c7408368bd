"""`bench doctor`: what this machine can run and why not (real on this CPU machine, fabricated GPU machines),
`--json`, the provider-failure classification with a faked onnxruntime, and `--gpu-check` without a GPU."""

import json
import subprocess
import sys
import types
from pathlib import Path

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
    assert trt11[("tensorrt", None, "cuda", "fp16")].available  # fp16 from ONNX Runtime's converter: no ModelOpt
    assert trt11[("tensorrt", None, "cuda", "int8")].available  # int8: ONNX Runtime's Q/DQ file, no ModelOpt
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


JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="{n}">{cases}</testsuite>
</testsuites>"""


def _junit(path, passed=3, skipped=(), failed=()):
    cases = [f'<testcase classname="tests.test_gpu" name="ok{i}"/>' for i in range(passed)]
    cases += [
        f'<testcase classname="tests.test_gpu" name="{n}"><skipped message="{why}"/></testcase>' for n, why in skipped
    ]
    cases += [
        f'<testcase classname="tests.test_gpu" name="{n}"><failure message="{why}"/></testcase>' for n, why in failed
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(JUNIT.format(n=len(cases), cases="".join(cases)))


class FakeMachine:
    """What --gpu-check runs, answered: nvidia-smi, pip freeze, pytest (a JUnit report), compare (records)."""

    def __init__(self, out, junit=None, rows=None, pytest_code=0):
        self.out, self.calls = out, []
        self.junit = junit or {}
        self.pytest_code = pytest_code
        self.rows = rows or [
            {
                "variant": "ort-trt",
                "precision": "fp32",
                "batch_size": 1,
                "error": None,
                "engine_info": {
                    "provider": "TensorrtExecutionProvider",
                    "node_placement": {"TensorrtExecutionProvider": 12},
                    "tf32": False,
                },
            }
        ]

    def __call__(self, cmd, **kwargs):
        self.calls.append((cmd, kwargs.get("timeout")))
        text = "ok\n"
        if cmd[0] == "nvidia-smi":
            text = "Driver Version    : 580.65.06\nCUDA Version      : 13.0\n"
        elif "freeze" in cmd:
            text = "torch==2.14.1\nonnxruntime-gpu==1.31.1\n"
        elif "pytest" in cmd:
            _junit(self.out / "evidence" / "junit-gpu.xml", **self.junit)
            return subprocess.CompletedProcess(cmd, self.pytest_code, "3 passed\n", "")
        elif "compare" in cmd:
            folder = Path(cmd[cmd.index("--out") + 1])
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "records.json").write_text(json.dumps({"records": self.rows}))
        return subprocess.CompletedProcess(cmd, 0, text, "")


def test_gpu_check_runs_every_step_in_its_time_box_and_keeps_evidence(tmp_path):
    out = tmp_path / "check"
    machine = FakeMachine(out)
    steps = doctor.gpu_check_steps(out, device_for_ddp="cpu")
    summary = doctor.gpu_check(out, has_gpu=lambda: True, run=machine, steps=steps)
    assert summary["ok"], summary
    names = [s["step"] for s in summary["steps"]]
    assert names == [
        "pytest-gpu",
        "train",
        "ddp-2-process",
        "compare",
        "torch-compile",
        "predict-tensorrt",
        "predict-ort-cuda",
        "tensorrt-layers",
    ]
    boxes = {s.name: s.seconds for s in steps}
    timed = [(c, t) for c, t in machine.calls if t is not None and c[0] != "nvidia-smi" and "freeze" not in c]
    assert all(t <= boxes[n] for (_, t), n in zip(timed, names))  # each step in its own time box
    compare = summary["steps"][3]["command"]
    assert compare[compare.index("--engines") + 1] == "torch-cuda,ort-cuda,ort-trt,trt"
    assert compare[compare.index("--precisions") + 1] == "fp32,fp16,tf32,int8"  # int8 and tf32 rows too
    pytest_cmd = summary["steps"][0]["command"]
    assert any(a.startswith("--junitxml=") for a in pytest_cmd) and "gpu" in pytest_cmd
    ddp = summary["steps"][2]["command"]
    assert ddp[ddp.index("--nproc-per-node") + 1] == "2" and ddp[ddp.index("--device") + 1] == "cpu"
    assert "tensorrt" in summary["steps"][5]["command"] and "cuda" in summary["steps"][6]["command"]
    evidence = out / "evidence"
    assert "Driver Version" in (evidence / "nvidia-smi-q.txt").read_text()
    assert "torch==2.14.1" in (evidence / "pip-freeze.txt").read_text()
    versions = json.loads((evidence / "versions.json").read_text())
    assert versions["driver"] == "580.65.06" and versions["cuda_driver"] == "13.0" and versions["machine"]
    placement = json.loads((evidence / "placement.json").read_text())
    assert placement == [
        {
            "row": "ort-trt fp32 batch 1",
            "error": None,
            "provider": "TensorrtExecutionProvider",
            "node_placement": {"TensorrtExecutionProvider": 12},
            "tf32": False,
        }
    ]
    assert (out / "logs" / "train.log").read_text() == "ok\n" and json.loads((out / "gpu-check.json").read_text())["ok"]


def test_a_skipped_gpu_test_none_collected_or_a_row_error_fails_the_check(tmp_path):
    out = tmp_path / "check"

    def check(machine):
        return doctor.gpu_check(
            out, has_gpu=lambda: True, run=machine, steps=doctor.gpu_check_steps(out, device_for_ddp="cpu")
        )

    skipped = check(FakeMachine(out, junit={"skipped": [("test_trt_int8", "needs tensorrt")]}))
    (pytest_step,) = [s for s in skipped["steps"] if s["step"] == "pytest-gpu"]
    assert not skipped["ok"] and pytest_step["problems"] == [
        "tests.test_gpu::test_trt_int8 was skipped: needs tensorrt"
    ]
    none = check(FakeMachine(out, pytest_code=5))
    assert not none["ok"] and "exit code 5" in none["steps"][0]["problems"][0]
    failed = check(FakeMachine(out, junit={"failed": [("test_tf32", "TF32 moved the logits")]}))
    assert failed["steps"][0]["problems"] == ["tests.test_gpu::test_tf32 failed: TF32 moved the logits"]
    rows = [{"variant": "trt", "precision": "int8", "batch_size": 32, "error": "asked for Tensorrt..."}]
    broken = check(FakeMachine(out, rows=rows))
    (compare,) = [s for s in broken["steps"] if s["step"] == "compare"]
    assert not broken["ok"] and compare["problems"] == ["trt int8 batch 32: asked for Tensorrt..."]


def test_a_timed_out_step_logs_text_not_bytes(tmp_path):
    out = tmp_path / "check"

    def run(cmd, **kwargs):
        if cmd[0] == "nvidia-smi" or "freeze" in cmd:
            return subprocess.CompletedProcess(cmd, 0, "", "")
        raise subprocess.TimeoutExpired(cmd, kwargs["timeout"], output=b"epoch 1 \xe2\x9c\x93\n", stderr=b"slow\n")

    step = doctor.Step("train", ["python", "-m", "bench", "train"], 30)
    summary = doctor.gpu_check(out, has_gpu=lambda: True, run=run, steps=[step])
    log = (out / "logs" / "train.log").read_text()
    assert log.startswith("timed out after 30 s") and "epoch 1 \u2713" in log and "b'" not in log
    assert not summary["ok"] and summary["steps"][0]["problems"] == ["timed out"]
