"""The server scenario's question: the highest offered QPS whose LoadGen run is VALID at the deadline.

LoadGen judges one offered load per run, so the answer is a search, each step one LoadGen run, every step kept:
1. bracket: from a first guess (a fraction of the engine's measured throughput), multiply by `grow` while runs
   are VALID, or halve while they are INVALID, until one VALID and one INVALID load are known;
2. bisect between them until the INVALID load is within `tolerance` of the VALID one (or `max_steps` runs).
LoadGen's own validity decides (the 99th percentile within the deadline, and its duration, query-count and
early-stopping rules): a step can be INVALID for another reason than latency, and its reasons say which.

Halving stops early when it cannot help: below `floor_qps` (a quick run's minimum query count does not fit in its
duration cap there), or when the p99 is over the deadline and halving the load no longer lowers it (by less than
`flat`): the engine's own latency tail at low load is over the deadline, and less load will not bring it under.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Step:
    offered_qps: float
    validity: str  # VALID | INVALID
    p99_ms: float | None
    completed_qps: float | None  # LoadGen's completed samples/s
    latency_count: int | None
    reasons: tuple[str, ...] = ()
    log_dir: str | None = None

    @property
    def valid(self) -> bool:
        return self.validity == "VALID"

    def to_dict(self) -> dict:
        return {**asdict(self), "reasons": list(self.reasons)}


@dataclass
class Search:
    steps: list[Step] = field(default_factory=list)
    best: Step | None = None  # the highest VALID offered load
    stopped: str = ""  # why the search ended

    @property
    def lowest_invalid(self) -> Step | None:
        bad = [s for s in self.steps if not s.valid]
        return min(bad, key=lambda s: s.offered_qps) if bad else None


def find_max_qps(
    run_at: Callable[[float], Step],
    start_qps: float,
    max_steps: int = 8,
    tolerance: float = 0.05,
    grow: float = 1.5,
    floor_qps: float = 0.1,
    deadline_ms: float | None = None,
    flat: float = 0.8,
) -> Search:
    """Bracket, then bisect; `run_at(qps)` is one LoadGen run at that offered load."""
    search = Search()
    lo: float | None = None  # highest VALID load so far
    hi: float | None = None  # lowest INVALID load so far
    qps = max(start_qps, floor_qps)
    while len(search.steps) < max_steps:
        step = run_at(qps)
        search.steps.append(step)
        if step.valid:
            lo = qps if lo is None else max(lo, qps)
        else:
            hi = qps if hi is None else min(hi, qps)
        if lo is None:
            if _flat_tail(search.steps, deadline_ms, flat):
                search.stopped = (
                    f"p99 over the {deadline_ms:g} ms deadline at {qps:.4g} QPS and no lower at half the load: "
                    "the engine's latency tail itself is over the deadline"
                )
                break
            qps = qps / 2
            if qps < floor_qps:
                search.stopped = f"no VALID load down to {floor_qps:.3g} QPS"
                break
        elif hi is None:
            qps = qps * grow
        elif hi <= lo * (1 + tolerance):
            search.stopped = f"bracketed within {tolerance:.0%}: VALID at {lo:.4g}, INVALID at {hi:.4g} QPS"
            break
        else:
            qps = (lo + hi) / 2
    else:
        search.stopped = f"{max_steps} steps taken (--search-steps)"
    valid = [s for s in search.steps if s.valid]
    search.best = max(valid, key=lambda s: s.offered_qps) if valid else None
    return search


def _flat_tail(steps: list[Step], deadline_ms: float | None, flat: float) -> bool:
    """The last two steps (the last at half the load) both over the deadline, the last not lower than `flat` x the
    one before."""
    if deadline_ms is None or len(steps) < 2:
        return False
    before, last = steps[-2], steps[-1]
    if before.p99_ms is None or last.p99_ms is None or last.offered_qps >= before.offered_qps:
        return False
    return last.p99_ms > deadline_ms and last.p99_ms >= flat * before.p99_ms
