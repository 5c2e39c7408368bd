"""LoadGen's system under test (SUT): an engine answering LoadGen's queries with each sample's logits.

How queries meet the engine, per scenario:
- single-stream (one sample per query, one query in flight) and multi-stream (8 samples per query, one in
  flight): answered inline, in LoadGen's issue call: one engine call per query, no thread hand-off to time;
- server (queries of one sample at Poisson arrival times) and offline (one query of every sample): queued for
  one worker thread that runs whatever is waiting, up to `max_batch` samples, as one batch (dynamic batching,
  without waiting for a batch to fill: an idle engine takes the next sample at once).

Each response carries the sample's float32 logits (read back from mlperf_log_accuracy.json in accuracy mode).
`NullEngine` returns zeros at once: the same harness around an engine that does nothing, so that LoadGen's and
our own cost per sample can be measured (the "harness overhead"). It takes no samples, so the SUT skips the
gather of a batch's samples into one tensor: that copy is the batching work of any server (every engine row's
time includes it; 60 us a sample at 375 px on 2 cores), not the harness's. An engine that raises fails the row: the
samples are still answered (LoadGen would wait for them for ever) and the first error is kept.
"""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch

from bench.mlperf.qsl import SampleLibrary
from mldrnet.errors import one_line

INLINE = frozenset({"single-stream", "multi-stream"})


class NullEngine:
    """An engine that does nothing: zeros of (B, classes), returned at once."""

    name = "null"
    takes_samples = False  # the SUT passes an empty (B, 0) tensor instead of gathering the batch

    def __init__(self, classes: int) -> None:
        self.classes = classes

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        return torch.zeros(batch.shape[0], self.classes)

    def describe(self) -> dict:
        return {
            "engine": "null",
            "note": "returns zeros without computing or gathering the samples: measures the harness alone",
        }


class EngineSUT:
    def __init__(
        self,
        engine: Callable[[torch.Tensor], torch.Tensor],
        qsl: SampleLibrary,
        scenario: str,
        max_batch: int = 8,
    ) -> None:
        self.engine, self.qsl, self.scenario = engine, qsl, scenario
        self.max_batch = max(1, int(max_batch))
        self.inline = scenario in INLINE
        self.gathers = getattr(engine, "takes_samples", True)  # False: the null engine, which reads no samples
        self.error: str | None = None
        self.calls = 0  # engine calls
        self.samples = 0  # samples answered
        self._pending: collections.deque = collections.deque()
        self._ready = threading.Condition()
        self._stop = False
        self._worker: threading.Thread | None = None
        self.on_first_issue: Callable[[], None] | None = None  # called once, at LoadGen's first query

    # --- LoadGen's callbacks ----------------------------------------------------------------------------------

    def issue(self, query_samples: Sequence) -> None:
        if self.on_first_issue is not None:
            first, self.on_first_issue = self.on_first_issue, None
            first()
        if self.inline:
            self._answer(list(query_samples))
            return
        with self._ready:
            self._pending.extend(query_samples)
            self._ready.notify()

    def flush(self) -> None:
        """LoadGen's flush: nothing is held back (the worker never waits for a batch to fill)."""

    # --- the work ---------------------------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._pending and not self._stop:
                    self._ready.wait()
                if self._stop and not self._pending:
                    return
                take = min(self.max_batch, len(self._pending))
                chunk = [self._pending.popleft() for _ in range(take)]
            self._answer(chunk)

    def _answer(self, samples: list) -> None:
        import mlperf_loadgen as lg

        for start in range(0, len(samples), self.max_batch):
            chunk = samples[start : start + self.max_batch]
            logits = None
            if self.error is None:
                try:
                    x = self.qsl.batch([s.index for s in chunk]) if self.gathers else torch.empty(len(chunk), 0)
                    logits = np.ascontiguousarray(torch.as_tensor(self.engine(x)).float().cpu().numpy())
                    self.calls += 1
                except Exception as e:  # answered anyway: LoadGen waits for every sample it issued
                    self.error = one_line(e)
            if logits is None or logits.shape[0] != len(chunk):
                if self.error is None:
                    self.error = (
                        f"the engine returned {None if logits is None else logits.shape[0]} rows for {len(chunk)}"
                    )
                lg.QuerySamplesComplete([lg.QuerySampleResponse(s.id, 0, 0) for s in chunk])
                continue
            # `logits` stays referenced until QuerySamplesComplete has copied what it logs
            row = logits.strides[0]
            base = logits.ctypes.data
            lg.QuerySamplesComplete([lg.QuerySampleResponse(s.id, base + i * row, row) for i, s in enumerate(chunk)])
            self.samples += len(chunk)

    @contextlib.contextmanager
    def constructed(self) -> Iterator[object]:
        """LoadGen's handle of this SUT, with the worker thread running for server and offline."""
        import mlperf_loadgen as lg

        if not self.inline:
            self._stop = False
            self._worker = threading.Thread(target=self._work, name="bench-mlperf-sut", daemon=True)
            self._worker.start()
        handle = lg.ConstructSUT(self.issue, self.flush)
        try:
            yield handle
        finally:
            lg.DestroySUT(handle)
            if self._worker is not None:
                with self._ready:
                    self._stop = True
                    self._ready.notify()
                self._worker.join()
                self._worker = None
