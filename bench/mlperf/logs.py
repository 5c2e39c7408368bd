"""One LoadGen run from its own output folder, and what its logs say.

LoadGen applies an `audit.config` it finds in the current working directory without being asked (it is how
MLPerf's compliance tests inject settings). A run therefore starts from the folder that will hold its logs, a
folder bench made for it and that holds no audit.config (one there is refused), and the working directory is
restored afterwards: whatever folder the user ran `bench` from, its audit.config never applies.

Parsed:
- mlperf_log_detail.txt: `:::MLLOG {json}` lines; every `result_*` key, `early_stopping_result`, the effective
  settings, errors and warnings (`error_*`, `warning_*` keys and the entries flagged is_error / is_warning);
- mlperf_log_summary.txt: "Result is : VALID|INVALID", the "... satisfied : NO" lines and LoadGen's
  recommendations, which together are its reason for INVALID;
- mlperf_log_accuracy.json (accuracy mode): one entry per answered sample, `qsl_idx` and the response bytes in
  hex (here: the sample's float32 logits), from which top-1 is computed.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mldrnet.errors import BenchError

SUMMARY, DETAIL, ACCURACY = "mlperf_log_summary.txt", "mlperf_log_detail.txt", "mlperf_log_accuracy.json"
AUDIT_CONFIG = "audit.config"
_MLLOG = ":::MLLOG "
_PERCENTILES = ("50.00", "90.00", "95.00", "97.00", "99.00", "99.90")


@contextmanager
def inside(folder: Path) -> Iterator[Path]:
    """Work from `folder` (made if missing; refused if it holds an audit.config), then return to the cwd."""
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / AUDIT_CONFIG).exists():
        raise BenchError(
            f"{folder / AUDIT_CONFIG} would override LoadGen's settings: remove it or choose another --out"
        )
    previous = os.getcwd()
    os.chdir(folder)
    try:
        yield folder
    finally:
        os.chdir(previous)


def run_loadgen(sut_handle, qsl_handle, settings, folder: Path) -> None:
    """StartTestWithLogSettings with its logs (summary, detail, accuracy; no trace) written to `folder`."""
    import mlperf_loadgen as lg

    with inside(folder) as here:
        out = lg.LogOutputSettings()
        out.outdir = str(here)
        out.copy_summary_to_stdout = False
        log = lg.LogSettings()
        log.log_output = out
        log.enable_trace = False
        lg.StartTestWithLogSettings(sut_handle, qsl_handle, settings, log)


@dataclass
class LoadGenResult:
    scenario: str  # LoadGen's name (SingleStream, ...)
    mode: str
    validity: str | None  # VALID | INVALID; None in accuracy mode (LoadGen judges no timing there)
    reasons: list[str] = field(default_factory=list)  # why INVALID, in LoadGen's words
    detail: dict = field(default_factory=dict)  # key -> value of the detail log (the last of a repeated key)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def ns_ms(self, key: str) -> float | None:
        v = self.detail.get(key)
        return None if v is None else float(v) / 1e6

    def latencies_ms(self, per_query: bool = False) -> dict[str, float | None]:
        """p50 .. p99.9, min, mean, max in ms (per query: multi-stream's 8-sample queries)."""
        kind = "per_query_latency" if per_query else "latency"
        out = {f"p{p.rstrip('0').rstrip('.')}_ms": self.ns_ms(f"result_{p}_percentile_{kind}_ns") for p in _PERCENTILES}
        q = "query_" if per_query else ""
        for name in ("min", "mean", "max"):
            out[f"{name}_ms"] = self.ns_ms(f"result_{name}_{q}latency_ns")
        return out


def read_detail(path: Path) -> tuple[dict, list[str], list[str]]:
    detail: dict = {}
    errors: list[str] = []
    warnings: list[str] = []
    for line in path.read_text(errors="replace").splitlines():
        if not line.startswith(_MLLOG):
            continue
        try:
            entry = json.loads(line[len(_MLLOG) :])
        except json.JSONDecodeError:
            continue
        key, value, meta = entry.get("key"), entry.get("value"), entry.get("metadata") or {}
        detail[key] = value
        if meta.get("is_error") or str(key).startswith("error"):
            errors.append(f"{key}: {value}")
        elif meta.get("is_warning") or str(key).startswith("warning"):
            warnings.append(f"{key}: {value}")
    return detail, errors, warnings


def summary_reasons(text: str) -> list[str]:
    """The summary's "X satisfied : NO" lines and its recommendations (LoadGen's reasons for INVALID)."""
    reasons = [
        f"{m.group(1).strip()} not satisfied" for m in re.finditer(r"^\s*(.+?)\s*satisfied\s*:\s*NO\s*$", text, re.M)
    ]
    recs = re.search(r"^Recommendations:\s*\n((?:\s*\*.*\n)*)", text, re.M)
    if recs:
        reasons += [line.strip().lstrip("*").strip() for line in recs.group(1).splitlines() if line.strip()]
    return reasons


def parse(folder: Path) -> LoadGenResult:
    folder = Path(folder)
    summary, detail_path = folder / SUMMARY, folder / DETAIL
    if not summary.is_file() or not detail_path.is_file():
        raise BenchError(f"LoadGen wrote no {SUMMARY} / {DETAIL} in {folder}")
    text = summary.read_text(errors="replace")
    detail, errors, warnings = read_detail(detail_path)
    scenario = re.search(r"^Scenario\s*:\s*(\S+)", text, re.M)
    mode = re.search(r"^Mode\s*:\s*(\S+)", text, re.M)
    valid = re.search(r"^Result is\s*:\s*(VALID|INVALID)", text, re.M)
    # accuracy mode: LoadGen times nothing and judges nothing (no "Result is" line): validity stays None
    validity = valid.group(1) if valid else detail.get("result_validity")
    if validity is None:
        return LoadGenResult(scenario.group(1) if scenario else "?", "AccuracyOnly", None, [], detail, errors, warnings)
    reasons = summary_reasons(text) if validity != "VALID" else []
    extra = str(detail.get("result_invalid_reason") or "").strip()
    if validity != "VALID" and extra and not any(extra.rstrip(". ") in r for r in reasons):
        reasons.append(extra)
    if validity != "VALID" and detail.get("early_stopping_met") is False:
        early = " ".join(str(detail.get("early_stopping_result") or "").replace("*", " ").split())
        if early:
            reasons.append(f"early stopping: {early}")
    if validity != "VALID" and not reasons:
        reasons = [e for e in errors] or ["LoadGen gave no reason"]
    return LoadGenResult(
        scenario.group(1) if scenario else str(detail.get("effective_scenario") or "?"),
        mode.group(1) if mode else "?",
        validity,
        reasons,
        detail,
        errors,
        warnings,
    )


def accuracy_logits(folder: Path) -> dict[int, np.ndarray]:
    """qsl_idx -> the float32 logits the SUT answered for it (the last answer, if one was logged twice)."""
    path = Path(folder) / ACCURACY
    if not path.is_file():
        raise BenchError(f"LoadGen wrote no {ACCURACY} in {folder}")
    try:
        entries = json.loads(path.read_text() or "[]")
    except json.JSONDecodeError as e:
        raise BenchError(f"cannot read {path}: {e}") from e
    return {int(e["qsl_idx"]): np.frombuffer(bytes.fromhex(e["data"]), dtype=np.float32) for e in entries}


def top1(
    logits: dict[int, np.ndarray], labels: np.ndarray, skip: set[int] = frozenset(), label_map=None
) -> tuple[float, int]:  # type: ignore[assignment]
    """(top-1 fraction, images counted) over the answered samples not in `skip`; `label_map` maps the model's
    output index to the dataset's class index (-1: a class the dataset does not have, always wrong)."""
    right = counted = 0
    for idx, row in logits.items():
        if idx in skip or row.size == 0:
            continue
        pred = int(np.argmax(row))
        if label_map is not None:
            pred = int(label_map[pred]) if pred < len(label_map) else -1
        right += int(pred == int(labels[idx]))
        counted += 1
    if counted == 0:
        raise BenchError("the accuracy log holds no answered sample")
    return right / counted, counted
