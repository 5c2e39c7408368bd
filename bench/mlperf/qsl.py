"""LoadGen's query-sample library (QSL): the test images, preprocessed into memory when LoadGen asks.

LoadGen names the samples it will use before the timed window (`load_samples`, then `unload_samples` after it;
in accuracy mode it walks the whole set in chunks of `performance_count`). Each image is decoded and preprocessed
exactly as compare's accuracy pass does it (mldrnet.data.loader.ImageSamples with the evaluation transform, over
the same seeded test list), so a query only indexes a tensor already in memory. An unreadable file is served as
a zero image and left out of accuracy (compare drops it too).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from mldrnet.data.loader import ImageSamples
from mldrnet.data.transforms import Preprocessing, eval_transform
from mldrnet.errors import BenchError

# the images a performance run keeps in memory at most (float32 tensors): LoadGen draws queries from these
MEMORY_BYTES = 2 * 2**30


class SampleLibrary:
    """(path, label) samples with their evaluation preprocessing; `total_count` samples, `performance_count` of
    them held in memory during a performance run."""

    def __init__(
        self,
        samples: Sequence[tuple[str, int]],
        preprocessing: Preprocessing,
        performance_count: int | None = None,
        memory_bytes: int = MEMORY_BYTES,
    ) -> None:
        if not samples:
            raise BenchError("the query-sample library has no images (an empty test split?)")
        self.samples = list(samples)
        self.preprocessing = preprocessing
        self.images = ImageSamples(self.samples, eval_transform(preprocessing), preprocessing.resize_to)
        self.labels = np.array([int(label) for _, label in self.samples], dtype=np.int64)
        fit = max(1, memory_bytes // self.image_bytes)
        self.performance_count = min(len(self.samples), performance_count or len(self.samples), fit)
        self.loaded: dict[int, torch.Tensor] = {}  # index -> (1, 3, S, S)
        self.unreadable: set[int] = set()
        self.load_s = 0.0  # preprocessing time spent in load callbacks in the last run (outside its timed window)
        self.loads = 0
        self._buffer: torch.Tensor | None = None  # batch() copies several samples here

    @property
    def total_count(self) -> int:
        return len(self.samples)

    @property
    def size(self) -> int:
        return self.preprocessing.crop

    @property
    def image_bytes(self) -> int:
        return 3 * self.size * self.size * 4

    def load(self, indices: Sequence[int]) -> None:
        """LoadGen's load callback: decode and preprocess these samples (those not in memory yet)."""
        start = time.perf_counter()
        for i in indices:
            if i in self.loaded:
                continue
            image, _, bad = self.images[i]
            if bad is not None:
                self.unreadable.add(i)
                image = torch.zeros(3, self.size, self.size)
            self.loaded[i] = image.unsqueeze(0).contiguous()
        self.load_s += time.perf_counter() - start
        self.loads += 1

    def unload(self, indices: Sequence[int]) -> None:
        for i in indices:
            self.loaded.pop(i, None)

    def batch(self, indices: Sequence[int]) -> torch.Tensor:
        """(B, 3, S, S) of loaded samples: one sample is its stored tensor itself (no copy); several are copied
        into one buffer that the next call reuses (the SUT's engine is done with a batch before it asks for the
        next): a third less time than a fresh tensor a batch, which at 375 px is 1.7 MB a sample."""
        if len(indices) == 1:
            return self.loaded[indices[0]]
        if self._buffer is None or self._buffer.shape[0] < len(indices):
            self._buffer = torch.empty(len(indices), 3, self.size, self.size)
        return torch.cat([self.loaded[i] for i in indices], out=self._buffer[: len(indices)])

    @contextlib.contextmanager
    def constructed(self) -> Iterator[object]:
        """LoadGen's handle of this library for the duration of a run."""
        import mlperf_loadgen as lg

        self.load_s, self.loads = 0.0, 0  # per LoadGen run
        handle = lg.ConstructQSL(self.total_count, self.performance_count, self.load, self.unload)
        try:
            yield handle
        finally:
            lg.DestroyQSL(handle)
            self.loaded.clear()
            self._buffer = None
