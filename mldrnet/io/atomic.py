"""Atomic file writes: a temporary file in the same folder, flushed to disk, then renamed over the target.

A reader (another process, a concurrent `bench compare`) sees the old file or the new one, never half of one,
and a killed writer leaves at most a `*.tmp` beside the target. The file gets ordinary permissions (0644):
mkstemp makes it owner-only, and results are shared artifacts.

The environment's failures (a full disk, a read-only or unwritable folder, a file where a folder should be)
become one `BenchError` line naming the file, the reason and what to do (`os_error`), also when torch.save
hides the disk's error behind its own ("unexpected pos ..."). Temporaries left by killed writers are removed
by later writes of the same file (`remove_stale_temporaries`).
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from mldrnet.errors import BenchError

STARTED = time.time()  # about when this process started: older temporaries of a file are no writer's of ours
STALE_MARGIN_S = 60.0  # and, so that a slow writer in another process is never robbed, at least this old
_RESULTS_HINT = "or choose another results folder (--results-dir or BENCH_RESULTS_DIR)"
_REASONS = {  # errno -> (what happened, what to do)
    errno.ENOSPC: ("no space left on device", f"free some space {_RESULTS_HINT}"),
    errno.EDQUOT: ("disk quota exceeded", f"free some space {_RESULTS_HINT}"),
    errno.EROFS: ("read-only file system", "choose a writable results folder (--results-dir or BENCH_RESULTS_DIR)"),
    errno.EACCES: ("permission denied", f"fix the folder's permissions {_RESULTS_HINT}"),
    errno.EPERM: ("operation not permitted", f"fix the folder's permissions {_RESULTS_HINT}"),
}


def _file_in_the_way(path: Path) -> Path | None:
    """The nearest of `path` and its parents that exists and is not a folder."""
    for p in (path, *path.parents):
        if p.exists() or p.is_symlink():
            return None if p.is_dir() else p
    return None


def os_error(e: OSError, path: str | os.PathLike, doing: str = "write") -> BenchError:
    """An OSError at a write boundary as one line: what (`cannot write PATH`), why (the errno's text), what to do."""
    path = Path(path)
    code = e.errno
    if code in (errno.ENOTDIR, errno.EEXIST, errno.EISDIR) or isinstance(e, (NotADirectoryError, FileExistsError)):
        blocker = _file_in_the_way(path if code != errno.EISDIR else path.parent)
        if code == errno.EISDIR:
            return BenchError(f"cannot {doing} {path}: it is a folder: move it away {_RESULTS_HINT}")
        if blocker is not None:
            return BenchError(f"cannot {doing} {path}: {blocker} is a file, not a folder: move it away {_RESULTS_HINT}")
    reason, todo = _REASONS.get(code or 0, (e.strerror or str(e), f"check the path {_RESULTS_HINT}"))
    name = errno.errorcode.get(code, "") if code else ""
    return BenchError(f"cannot {doing} {path}: {reason}{f' ({name})' if name else ''}: {todo}")


def writable_dir(path: str | os.PathLike, what: str = "folder") -> Path:
    """Create folder `path` if needed and make sure files can be created in it, before any work that would be
    lost: a BenchError naming it (a file in the way, read-only, no permission) when not."""
    path = Path(path)
    try:
        blocker = _file_in_the_way(path)
    except OSError as e:  # a name or path too long
        raise os_error(e, path, f"write to the {what}") from None
    if blocker is not None and blocker.is_symlink() and not blocker.exists():
        raise BenchError(
            f"cannot use {path} as the {what}: {blocker} is a symlink that leads nowhere (a loop or a missing "
            f"target): fix or remove it {_RESULTS_HINT}"
        )
    if blocker is not None:
        raise BenchError(
            f"cannot use {path} as the {what}: {blocker} is a file, not a folder: move it away {_RESULTS_HINT}"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".write-probe", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise os_error(e, path, f"write to the {what}") from None
    return path


_TEMP_NAME = re.compile(r"[a-z0-9_]{8}\.tmp")  # what mkstemp adds after the file's name


def remove_stale_temporaries(path: str | os.PathLike, older_than: float | None = None) -> list[Path]:
    """Remove the temporaries killed atomic writes of `path` left beside it (`<name>XXXXXXXX.tmp`) last modified
    before `older_than` (a time.time(); None: all of them, for a caller holding the file's lock)."""
    path = Path(path)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if not (name.startswith(path.name) and _TEMP_NAME.fullmatch(name[len(path.name) :])):
            continue
        try:
            if older_than is None or entry.stat(follow_symlinks=False).st_mtime < older_than:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            pass  # gone already, or not ours to remove: it is only litter
    return removed


class _Recording:
    """The temporary file, remembering the OSError of a failed write: torch.save reports a full disk as its own
    RuntimeError (\"unexpected pos ...\"), and the disk's reason must reach the user."""

    def __init__(self, f: BinaryIO):
        self._f = f
        self.error: OSError | None = None

    def write(self, data) -> int:
        try:
            return self._f.write(data)
        except OSError as e:
            self.error = e
            raise

    def flush(self) -> None:
        try:
            self._f.flush()
        except OSError as e:
            self.error = e
            raise

    def __getattr__(self, name):
        return getattr(self._f, name)


@contextmanager
def atomic_open(path: str | os.PathLike) -> Iterator[_Recording]:
    """A binary file to write `path`'s new content into; it replaces `path` only when the block ends cleanly.
    An OSError (here or of a write in the block) becomes a BenchError naming `path` (`os_error`)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    except OSError as e:
        raise os_error(e, path) from None
    f = None
    try:
        with os.fdopen(fd, "wb") as raw:
            f = _Recording(raw)
            yield f
            f.flush()
            os.fsync(raw.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        cause = e if isinstance(e, OSError) else (f.error if f is not None else None)
        if cause is None and isinstance(e, RuntimeError) and isinstance(e.__context__, OSError):
            cause = e.__context__  # torch's writer failed inside its C++ code, the disk's reason is the context
        if cause is not None and isinstance(e, Exception) and not isinstance(e, BenchError):
            raise os_error(cause, path) from e
        raise
    remove_stale_temporaries(path, older_than=min(STARTED, time.time() - STALE_MARGIN_S))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_open(path) as f:
        f.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """`text` written atomically. A character the encoding cannot hold (a file name that is not valid UTF-8,
    kept by Python as a surrogate escape) is written as a backslash escape, never a crash after the work."""
    return atomic_write_bytes(path, text.encode(encoding, errors="backslashreplace"))
