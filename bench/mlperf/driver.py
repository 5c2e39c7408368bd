"""One engine row's LoadGen runs: each scenario one run from its own folder (the server scenario a search of
several, unless an offered load is given), each filled into a record from LoadGen's logs.

Before a row's runs, a short measurement of its engine (batch 1, 8 and the SUT's batch) gives LoadGen the
expected latencies and rate it pre-generates queries from (settings.py), and the server search its first guess
(the offline rate LoadGen measured in the same invocation when there is one, else this measurement). A run that
ends short because the engine beat those expectations (LoadGen: "Min duration satisfied : NO", with its
recommendation to change the expected figure) is run once more with LoadGen's own measurement as the expectation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch

from bench.mlperf import logs
from bench.mlperf.record import FIGURES, OFFICIAL_NOTE, MlperfRecord, row_name
from bench.mlperf.resources import Meter, Usage
from bench.mlperf.rows import Row, Source
from bench.mlperf.search import Search, Step, find_max_qps
from bench.mlperf.settings import (
    MULTI_STREAM_SAMPLES,
    Expected,
    MlperfConfig,
    RunSettings,
    default_cap,
    loadgen_settings,
    min_queries,
    server_batch,
)
from bench.mlperf.sut import EngineSUT
from bench.timing import TimingConfig, measure
from mldrnet.errors import BenchError, one_line

RUN_ORDER = ("single-stream", "multi-stream", "offline", "server")  # offline's rate seeds the server search
PROBE = TimingConfig(warmup_iters=2, warmup_s=0.05, min_iters=3, budget_s=0.2)
NULL_EXPECTED = Expected(5e-6, 2e-5, 150_000.0)  # LoadGen's own pace on a 2-core machine, about
SEARCH_START = 0.7  # the search's first offered load, as a fraction of the throughput
OFFICIAL_SAMPLES = 1024  # resnet50's performance_sample_count in mlperf.conf


def expected_of(row: Row, size: int, batch: int) -> Expected:
    """What LoadGen should expect of the engine, and what the server's batch cap is chosen from: the median call
    time at batch 1, 2, 4, ... up to `batch` and at the multi-stream query's 8; the rate at `batch`."""
    if row.variant == "null":
        return NULL_EXPECTED
    sizes = sorted({*(2**i for i in range(batch.bit_length()) if 2**i <= batch), batch, MULTI_STREAM_SAMPLES})
    timed = {b: measure(lambda b=b: row.engine(torch.zeros(b, 3, size, size)), b, PROBE) for b in sizes}
    calls = {b: m.latency.p50_ms / 1e3 for b, m in timed.items()}
    return Expected(calls[1], calls[MULTI_STREAM_SAMPLES], timed[batch].images_per_s, calls)


class Driver:
    """A run's state: config, output folder, progress; `row_records` drives one engine row."""

    def __init__(self, config: MlperfConfig, out_dir: Path, progress: Callable[[str], None]) -> None:
        self.config, self.out_dir, self.progress = config, out_dir, progress

    def batch(self, row: Row) -> int:
        return self.config.max_batch or (32 if row.device == "cuda" else 8)

    def sut_batch(self, row: Row, scenario: str, expected: Expected | None = None) -> int:
        """The SUT's largest engine call: a single-stream query is one image, a multi-stream query its 8, offline
        --max-batch (8 on a CPU, 32 on a GPU); the server's is capped for its deadline (settings.server_batch)
        unless --max-batch was given."""
        fixed = {"single-stream": 1, "multi-stream": MULTI_STREAM_SAMPLES}
        if scenario in fixed:
            return fixed[scenario]
        if scenario == "server" and self.config.max_batch is None and expected is not None:
            return server_batch(expected, self.batch(row), self.config.target_latency_ms)
        return self.batch(row)

    def settings(self, scenario: str, qsl_count: int, server_qps: float | None = None) -> RunSettings:
        c = self.config
        count = min(OFFICIAL_SAMPLES, qsl_count) if c.official else qsl_count
        return RunSettings(
            scenario,
            c.mode,
            c.duration_s,
            c.official,
            c.target_latency_ms,
            server_qps,
            None if c.official else default_cap(c.duration_s),
            count,
            None if c.official else c.min_queries,
        )

    def run_once(self, row: Row, source: Source, rs: RunSettings, expected: Expected, folder: Path):
        """One LoadGen run: (parsed logs, usage over the timed window, the SUT)."""
        sut = EngineSUT(row.engine, source.qsl, rs.scenario, self.sut_batch(row, rs.scenario, expected))
        meter = Meter(row.device)
        sut.on_first_issue = meter.start
        with source.qsl.constructed() as qsl, sut.constructed() as handle:
            logs.run_loadgen(handle, qsl, loadgen_settings(rs, expected), folder)
        usage = meter.stop()
        if sut.error:
            raise BenchError(f"the engine failed under LoadGen: {sut.error}")
        return logs.parse(folder), usage, sut

    def run_adjusted(
        self, row: Row, source: Source, rs: RunSettings, expected: Expected, folder: Path, rec: MlperfRecord
    ):
        """run_once, and once more when LoadGen ran short of pre-generated queries (its duration not met because
        the engine beat what LoadGen was told to expect): with LoadGen's own measurement as the expectation, as
        its recommendation says. The first attempt's verdict is kept in the record's settings."""
        res, usage, _ = self.run_once(row, source, rs, expected, folder)
        if (
            rs.scenario == "server"
            or rs.mode != "performance"
            or res.detail.get("result_min_duration_met") is not False
        ):
            return res, usage
        d = res.detail
        if rs.scenario == "offline" and d.get("result_samples_per_second"):
            better = replace(expected, samples_per_s=float(d["result_samples_per_second"]))
        elif rs.scenario == "single-stream" and d.get("result_min_latency_ns"):
            better = replace(expected, latency_s=float(d["result_min_latency_ns"]) / 1e9)
        elif rs.scenario == "multi-stream" and d.get("result_min_query_latency_ns"):
            better = replace(expected, multi_latency_s=float(d["result_min_query_latency_ns"]) / 1e9)
        else:
            return res, usage
        rec.settings["first_attempt"] = {
            "validity": res.validity,
            "reasons": list(res.reasons),
            "expected": expected.to_dict(),
        }
        rec.settings["expected"] = better.to_dict()
        res, usage, _ = self.run_once(row, source, rs, better, folder)
        return res, usage

    def new_record(self, row: Row, source: Source, scenario: str) -> MlperfRecord:
        c = self.config
        rec = MlperfRecord(row.model, row.variant, row.engine_name, row.device, row.precision, scenario, c.mode)
        rec.official, rec.provider = c.official, row.provider
        if c.official:
            rec.note = OFFICIAL_NOTE + (
                f"; {source.qsl.performance_count} performance samples (the test split holds fewer than "
                f"{OFFICIAL_SAMPLES})"
                if source.qsl.performance_count < OFFICIAL_SAMPLES
                else ""
            )
        rec.dataset, rec.split_hash, rec.input_size = source.dataset, source.split_hash, source.qsl.size
        rec.test_images = source.qsl.total_count
        rec.performance_count = (
            min(OFFICIAL_SAMPLES, source.qsl.performance_count) if c.official else source.qsl.performance_count
        )
        rec.threads = torch.get_num_threads()
        rec.file, rec.file_bytes, rec.load_s, rec.first_call_s = row.file, row.file_bytes, row.load_s, row.first_call_s
        rec.engine_info, rec.error = dict(row.info), row.error
        rec.target_latency_ms = c.target_latency_ms if scenario == "server" else None
        rec.max_batch = self.sut_batch(row, scenario)
        return rec

    def fill(self, rec: MlperfRecord, res: logs.LoadGenResult, usage: Usage | None, folder: Path) -> None:
        d, scenario = res.detail, rec.scenario
        rec.validity, rec.invalid_reasons, rec.log_dir = res.validity, list(res.reasons), str(folder)
        rec.latency = res.latencies_ms(per_query=scenario == "multi-stream")
        rec.p90_ms, rec.p99_ms = rec.latency.get("p90_ms"), rec.latency.get("p99_ms")
        queries = d.get("result_query_count")
        rec.latency_count = int(d.get("generated_samples_per_query") or 0) if scenario == "offline" else queries
        rec.samples_per_s = {
            "single-stream": d.get("result_qps_with_loadgen_overhead"),
            "server": d.get("result_completed_samples_per_sec"),
            "offline": d.get("result_samples_per_second"),
        }.get(scenario)
        rec.figure_name = FIGURES[scenario][1]
        rec.figure = getattr(rec, FIGURES[scenario][0])
        if scenario == "server":
            rec.offered_qps = d.get("effective_target_qps") or rec.offered_qps
        if usage is not None:
            rec.peak_rss_mb, rec.window_rss_mb = usage.peak_rss_mb, usage.window_rss_mb
            rec.cpu_util_pct, rec.cpu_cores_busy, rec.device_used_mb = (
                usage.cpu_util_pct,
                usage.cpu_cores_busy,
                usage.device_used_mb,
            )

    def scenario_record(
        self, row: Row, source: Source, scenario: str, expected: Expected, offline_rate: float | None
    ) -> MlperfRecord:
        c = self.config
        rec = self.new_record(row, source, scenario)
        rec.max_batch = self.sut_batch(row, scenario, expected)
        folder = self.out_dir / row_name(row.model, row.variant, row.precision, scenario, c.mode)
        rec.settings = {"expected": expected.to_dict()}
        try:
            if scenario == "server" and c.mode == "performance" and c.server_qps is None:
                self.server_search(row, source, rec, expected, offline_rate, folder)
            else:
                qps = (
                    (c.server_qps or max(1.0, expected.samples_per_s * SEARCH_START)) if scenario == "server" else None
                )
                rs = self.settings(scenario, source.qsl.total_count, qps)
                rec.settings.update(rs.to_dict())
                rec.offered_qps = qps
                res, usage = self.run_adjusted(row, source, rs, expected, folder, rec)
                self.fill(rec, res, usage, folder)
                if c.mode == "accuracy":
                    self.accuracy(rec, row, source, folder)
            rec.qsl_load_s = source.qsl.load_s
        except Exception as e:
            rec.error = one_line(e)
        self.progress(_progress_line(rec))
        return rec

    def accuracy(self, rec: MlperfRecord, row: Row, source: Source, folder: Path) -> None:
        if row.accuracy_note is not None:
            rec.accuracy_note = row.accuracy_note
            return
        fraction, counted = logs.top1(
            logs.accuracy_logits(folder), source.qsl.labels, source.qsl.unreadable, row.label_map
        )
        rec.accuracy_pct, rec.accuracy_images = 100.0 * fraction, counted
        rec.accuracy_note = f"top-1 over {counted} test images from {logs.ACCURACY}"

    def server_search(
        self, row: Row, source: Source, rec: MlperfRecord, expected: Expected, offline_rate: float | None, folder: Path
    ) -> None:
        c = self.config
        results: dict[float, tuple] = {}

        def run_at(qps: float) -> Step:
            step_dir = folder / f"qps-{qps:010.3f}"
            rs = self.settings("server", source.qsl.total_count, qps)
            res, usage, _ = self.run_once(row, source, rs, expected, step_dir)
            results[qps] = (res, usage, step_dir)
            lat = res.latencies_ms()
            step = Step(
                qps,
                res.validity,
                lat["p99_ms"],
                res.detail.get("result_completed_samples_per_sec"),
                res.detail.get("result_query_count"),
                tuple(res.reasons),
                str(step_dir),
            )
            self.progress(f"  server at {qps:.4g} QPS: {res.validity}, p99 {_ms(step.p99_ms)}")
            return step

        start = SEARCH_START * (offline_rate or expected.samples_per_s)
        # below this load a quick run's minimum query count does not fit in its duration cap: never VALID
        rs = self.settings("server", source.qsl.total_count)
        floor = (rs.min_query_count or min_queries("server")) / rs.max_duration_s if rs.max_duration_s else 0.1
        search: Search = find_max_qps(
            run_at, start, max_steps=c.search_steps, floor_qps=floor, deadline_ms=c.target_latency_ms
        )
        rec.search = [s.to_dict() for s in search.steps]
        rec.settings.update(self.settings("server", source.qsl.total_count).to_dict(), search=search.stopped)
        chosen = search.best or search.lowest_invalid
        if chosen is None:
            raise BenchError("the server search made no run")
        res, usage, step_dir = results[chosen.offered_qps]
        rec.offered_qps = chosen.offered_qps
        self.fill(rec, res, usage, step_dir)
        rec.log_dir = str(folder)
        if search.best is None:
            rec.validity = "INVALID"
            rec.invalid_reasons = [
                f"no offered load was VALID at p99 <= {c.target_latency_ms:g} ms ({search.stopped})"
            ] + list(chosen.reasons)

    def row_records(self, row: Row, source: Source) -> list[MlperfRecord]:
        scenarios = [s for s in RUN_ORDER if s in self.config.scenarios]
        if row.error is not None:
            self.progress(f"{row.model} {row.variant} {row.precision}: {row.error}")
            return [self.new_record(row, source, s) for s in scenarios]
        expected = expected_of(row, source.qsl.size, self.batch(row))
        out, offline_rate = [], None
        for s in scenarios:
            rec = self.scenario_record(row, source, s, expected, offline_rate)
            if s == "offline" and rec.ok and rec.samples_per_s:
                offline_rate = rec.samples_per_s
            out.append(rec)
        return out


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f} ms"


def _progress_line(r: MlperfRecord) -> str:
    head = f"{r.model} {r.variant} {r.precision} {r.scenario} ({r.mode})"
    if r.error:
        return f"{head}: {r.error}"
    fig = "-" if r.figure is None else f"{r.figure:.4g}"
    acc = "" if r.accuracy_pct is None else f", top-1 {r.accuracy_pct:.2f}%"
    return f"{head}: {r.validity}, {r.figure_name} {fig}{acc}"
