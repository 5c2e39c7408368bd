"""One `bench mlperf` invocation: the engine rows (a zoo model's variants, an --onnx file, or the SUT that does
nothing), each driven through the scenarios asked for (driver.py), every LoadGen run in its own folder under
results/mlperf/<timestamp>/, and one record per (row, scenario) in mlperf.json beside them, with the server plot.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from bench.mlperf.driver import Driver
from bench.mlperf.record import MlperfRecord, write_records
from bench.mlperf.rows import Row, foreign_row, foreign_source, null_row, zoo_rows, zoo_source
from bench.mlperf.settings import OFFICIAL_MODEL, MlperfConfig
from bench.timing import pin_threads
from mldrnet.data.prepare import DataConfig
from mldrnet.errors import BenchError

__all__ = ["MlperfConfig", "MlperfRun", "run_mlperf"]


@dataclass
class MlperfRun:
    records: list[MlperfRecord]
    out_dir: Path
    files: list[Path]


def _rows(config: MlperfConfig, root: Path, threads: int):
    """(Source, iterator of Rows): a zoo model's variants, or the --onnx file; --null-sut: the do-nothing SUT."""
    if config.onnx:
        probe = foreign_row(Path(config.onnx), threads, config.input_size, None, config.precision)
        data_cfg = config.data_config or DataConfig(dataset=config.dataset, data_root=config.data_root)
        source = foreign_source(Path(config.onnx), root, data_cfg, probe.engine.size, config.max_images)
        row = foreign_row(
            Path(config.onnx),
            threads,
            config.input_size,
            config.labels,
            config.precision,
            source.classes,
            source.dataset,
        )
        return source, iter([null_row(row, row.engine.classes, source.qsl.size) if config.null_sut else row])
    if config.model is None:
        raise BenchError("name a zoo MODEL or give --onnx FILE")
    source, ckpt, model, path = zoo_source(
        config.model, root, config.dataset, config.data_root, config.size, config.max_images
    )
    if config.null_sut:
        return source, iter(
            [
                null_row(
                    Row(source.model, "null", "null", "cpu", config.precision, None),
                    len(source.classes),
                    source.qsl.size,
                )
            ]
        )
    return source, zoo_rows(
        list(config.engines),
        config.precision,
        source,
        model,
        path,
        root,
        config.data_root,
        config.size,
        threads,
        config.max_batch,
    )


def run_mlperf(
    config: MlperfConfig, results_root: Path, out_dir: Path, progress: Callable[[str], None] = lambda s: None
) -> MlperfRun:
    from bench.envinfo import environment, usable_cpus
    from bench.mlperf.plot import write_server_plot

    if config.mode not in ("performance", "accuracy"):
        raise BenchError(f"--mode must be performance or accuracy, not {config.mode!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    previous = torch.get_num_threads()
    threads = pin_threads(config.threads or usable_cpus())
    records: list[MlperfRecord] = []
    try:
        source, rows = _rows(config, Path(results_root), threads)
        driver = Driver(config, out_dir, progress)
        for row in rows:
            records += driver.row_records(row, source)
            row.engine = None
            gc.collect()
    finally:
        torch.set_num_threads(previous)
    env = environment(config.dataset, [r.split_hash for r in records if r.split_hash], threads)
    env["loadgen"] = _loadgen_version()
    env["official_model"] = OFFICIAL_MODEL if config.official else None
    files = [write_records(records, out_dir, env, config.to_dict())]
    plot = write_server_plot(
        records, out_dir, f"{env.get('gpu') or env.get('cpu')}, {threads} threads, {env.get('created')}"
    )
    if plot is not None:
        files.append(plot)
    return MlperfRun(records, out_dir, files)


def _loadgen_version() -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version("mlcommons-loadgen")
    except importlib.metadata.PackageNotFoundError:
        return None
