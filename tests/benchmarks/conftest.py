"""pytest-benchmark suite settings: fail loudly when a comparison would be meaningless.

pytest-benchmark compares against a saved run from any machine and only *warns* when the machine differs; with
`--benchmark-compare-fail` it does stop when there is nothing to compare against (a UsageError). Timings from
another CPU are not a baseline, so with `--benchmark-compare-fail` a different CPU model, core count,
architecture or Python is an error here too (set BENCH_BENCHMARK_ANY_MACHINE=1 to compare anyway).

Benchmarks are disabled by default (pyproject's `--benchmark-disable`: each runs once, as a test); measure with
`--benchmark-enable`. See the README's section on CI for the full commands.
"""

import os

import pytest

# the machine facts that change timings; the host name does not (CI runners are renamed every run)
_KEYS = (
    ("cpu", "brand_raw"),
    ("cpu", "count"),
    ("machine",),
    ("system",),
    ("python_implementation",),
    ("python_version",),
)


def _get(info: dict, path: tuple[str, ...]):
    for key in path:
        info = info.get(key, {}) if isinstance(info, dict) else {}
    return info or None


def machine_differences(current: dict, saved: dict) -> list[str]:
    return [
        f"{'.'.join(k)}: {_get(saved, k)!r} -> {_get(current, k)!r}"
        for k in _KEYS
        if _get(current, k) != _get(saved, k)
    ]


def pytest_benchmark_compare_machine_info(config, benchmarksession, machine_info, compared_benchmark):
    if not benchmarksession.compare_fail or os.environ.get("BENCH_BENCHMARK_ANY_MACHINE") == "1":
        return
    diffs = machine_differences(machine_info, compared_benchmark.get("machine_info", {}))
    if diffs:
        raise pytest.UsageError(
            "the saved benchmark run is from another machine (" + "; ".join(diffs) + "): its "
            "timings are no baseline here. Save a baseline on this machine, or set "
            "BENCH_BENCHMARK_ANY_MACHINE=1"
        )
