"""What `bench data info` and `bench data verify` report: counts per class and split, and bad files.

`quick_check` reads headers only (fast enough for 23k files on every `info`); `verify` decodes every pixel,
as training would, and also groups byte-identical files, which in FI are mostly the "photo no longer
available" placeholders and, across splits, a leak from train into test.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections import Counter
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

from mldrnet.data.decode import UnreadableImage, decode_image, printable, probe_image
from mldrnet.data.prepare import PreparedData

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClassRow:
    name: str
    train: int
    val: int
    test: int
    unreadable: int

    @property
    def total(self) -> int:
        return self.train + self.val + self.test


@dataclass(frozen=True)
class VerifyReport:
    n_checked: int
    # paths as `printable` shows them (a name that is not valid UTF-8 as \xNN escapes), ready to print
    bad: tuple[tuple[str, str], ...]  # (path, reason), in file order
    duplicates: tuple[tuple[str, ...], ...]  # groups of byte-identical files

    @property
    def ok(self) -> bool:
        return not self.bad


def class_rows(data: PreparedData, bad: dict[str, str]) -> list[ClassRow]:
    counts = {
        part: Counter(label for _, label in pairs)
        for part, pairs in (("train", data.train), ("val", data.val), ("test", data.test))
    }
    bad_by_class = Counter(label for path, label in data.train + data.val + data.test if path in bad)
    return [
        ClassRow(name, counts["train"][i], counts["val"][i], counts["test"][i], bad_by_class[i])
        for i, name in enumerate(data.classes)
    ]


def quick_check(paths: list[str], workers: int = 0, show: int = 10) -> dict[str, str]:
    """Path -> reason for every file whose header (or end marker) is bad; the first `show` are named in one
    warning (`verify` names every one), so `info` says which files its unreadable count holds."""
    bad = {p: r for p, r in zip(paths, _map(probe_image, paths, workers)) if r is not None}
    if bad and show:
        named = "; ".join(f"{printable(p)}: {r}" for p, r in list(bad.items())[:show])
        more = f" (and {len(bad) - show} more; `bench data verify` names every one)" if len(bad) > show else ""
        log.warning(f"{len(bad)} files cannot be used: {named}{more}")
    return bad


def verify(
    paths: list[Path], workers: int = 0, on_progress: Callable[[int, int], None] = lambda done, total: None
) -> VerifyReport:
    """Decode and hash every file; `on_progress(done, total)` every PROGRESS_EVERY files (a large set takes
    minutes: the CLI shows how far it got and the time left)."""
    results = _map(_check_one, [os.fsdecode(p) for p in paths], workers, on_progress)
    bad = tuple((printable(p), reason) for p, reason, _ in results if reason is not None)
    groups: dict[str, list[str]] = {}
    for p, _, digest in results:
        if digest:
            groups.setdefault(digest, []).append(printable(p))
    duplicates = tuple(tuple(g) for g in groups.values() if len(g) > 1)
    return VerifyReport(len(results), bad, duplicates)


def _check_one(path: str) -> tuple[str, str | None, str | None]:
    digest = None
    try:
        if stat.S_ISREG(os.stat(path).st_mode):  # never read a FIFO (blocks) or a device
            digest = hashlib.sha1(Path(path).read_bytes()).hexdigest()
    except OSError:
        pass  # decode_image names the reason
    try:
        decode_image(path)
    except UnreadableImage as e:
        return path, e.reason, digest
    return path, None, digest


PROGRESS_EVERY = 64  # files between two progress calls


def _map(fn, items: list, workers: int, on_progress: Callable[[int, int], None] = lambda done, total: None) -> list:
    results: list = []
    with Pool(workers) if workers > 0 and len(items) >= PROGRESS_EVERY else nullcontext() as pool:
        mapped = pool.imap(fn, items, chunksize=PROGRESS_EVERY) if pool is not None else map(fn, items)
        for result in mapped:  # in the items' order, as they finish
            results.append(result)
            if len(results) % PROGRESS_EVERY == 0 or len(results) == len(items):
                on_progress(len(results), len(items))
    return results
