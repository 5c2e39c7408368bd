"""install.sh, the README's CPU-first install: which pip commands it runs with and without a GPU, and when PyTorch's
CPU index does or does not answer (pip, nvidia-smi and the index are fakes; nothing is installed)."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "install.sh"


def _fake_bin(tmp_path: Path, gpu: bool) -> Path:
    """A PATH with python3, dirname, a pip that logs its arguments and (with `gpu`) an nvidia-smi that finds one."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)
    (bin_dir / "dirname").symlink_to(shutil.which("dirname") or "/usr/bin/dirname")
    (bin_dir / "pip").write_text(f'#!/bin/sh\necho "$*" >> {tmp_path}/pip.log\n')
    (bin_dir / "pip").chmod(0o755)
    if gpu:
        (bin_dir / "nvidia-smi").write_text("#!/bin/sh\necho 'GPU 0: NVIDIA H100'\n")
        (bin_dir / "nvidia-smi").chmod(0o755)
    return bin_dir


def _run(tmp_path: Path, gpu: bool, index: str, *args: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    env = {"PATH": str(_fake_bin(tmp_path, gpu)), "BENCH_TORCH_CPU_INDEX": index, "HOME": str(tmp_path)}
    done = subprocess.run(["/bin/sh", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60)
    log = tmp_path / "pip.log"
    return done, log.read_text().splitlines() if log.exists() else []


@pytest.fixture
def cpu_index(tmp_path_factory):
    """A local stand-in for PyTorch's CPU index: answers /torch/."""
    root = tmp_path_factory.mktemp("index")
    (root / "torch").mkdir()
    (root / "torch" / "index.html").write_text("<html></html>")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_without_a_gpu_torch_comes_from_the_cpu_index_first(tmp_path, cpu_index):
    done, pip = _run(tmp_path, False, cpu_index, "cpu,test", "-q")
    assert done.returncode == 0, done.stderr
    assert pip == [f"install -q torch==2.14.1 torchvision==0.29.1 --index-url {cpu_index}", "install -q -e .[cpu,test]"]


def test_the_pins_are_read_from_pyproject(tmp_path, cpu_index):
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = [d for d in deps if d.startswith(("torch==", "torchvision=="))]
    done, pip = _run(tmp_path, False, cpu_index)
    assert done.returncode == 0, done.stderr
    assert pip[0].split(" --index-url")[0].split()[1:] == pins
    assert pip[1] == "install -e .[cpu]"  # the default extra


def test_with_a_gpu_only_the_extra_is_installed(tmp_path, cpu_index):
    done, pip = _run(tmp_path, True, cpu_index, "cpu,test")
    assert done.returncode == 0, done.stderr
    assert pip == ["install -e .[cpu,test]"]
    assert "GPU found" in done.stdout


def test_an_unreachable_cpu_index_is_said_and_the_install_goes_on(tmp_path):
    done, pip = _run(tmp_path, False, "http://127.0.0.1:9", "cpu")  # port 9 (discard): refused at once
    assert done.returncode == 0, done.stderr
    assert pip == ["install -e .[cpu]"]
    assert "does not answer" in done.stderr


@pytest.mark.skipif(os.name != "posix", reason="a POSIX shell script")
def test_a_failing_pip_fails_the_script(tmp_path, cpu_index):
    bin_dir = _fake_bin(tmp_path, False)
    (bin_dir / "pip").write_text("#!/bin/sh\nexit 3\n")
    env = {"PATH": str(bin_dir), "BENCH_TORCH_CPU_INDEX": cpu_index, "HOME": str(tmp_path)}
    done = subprocess.run(["/bin/sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 3


def test_the_gpu_extra_never_gets_the_cpu_build(tmp_path, cpu_index):
    done, pip = _run(tmp_path, False, cpu_index, "gpu,test")  # e.g. an image built on a machine without a GPU
    assert done.returncode == 0, done.stderr
    assert pip == ["install -e .[gpu,test]"] and "gpu extra" in done.stdout


@pytest.mark.skipif(os.name != "posix", reason="a POSIX shell script")
def test_a_cpu_index_without_the_pins_is_said_and_the_install_goes_on(tmp_path, cpu_index):
    bin_dir = _fake_bin(tmp_path, False)
    # a pip that fails on the CPU index (it lacks the pinned versions) and succeeds elsewhere
    (bin_dir / "pip").write_text(
        f'#!/bin/sh\necho "$*" >> {tmp_path}/pip.log\ncase "$*" in *index-url*) exit 1;; esac\n'
    )
    env = {"PATH": str(bin_dir), "BENCH_TORCH_CPU_INDEX": cpu_index, "HOME": str(tmp_path)}
    done = subprocess.run(["/bin/sh", str(SCRIPT), "cpu"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "pip.log").read_text().splitlines()[-1] == "install -e .[cpu]"
    assert "could not install" in done.stderr
