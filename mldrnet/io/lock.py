"""One writer at a time: an exclusive lock per run folder (training), per exported file and per compare output.

    with exclusive(lock_file, "the run folder results/runs/synth/mldrnet"):
        ...write...

The lock is `fcntl.flock` on `lock_file`, taken without waiting: a second process refuses at once with one
`BenchError` line naming the holder (pid, host, since when, its command), which the holder wrote into the lock
file. The OS releases a flock when its process dies, so a killed run never leaves a stale lock; the file is
removed on a clean release (a process that opened it just before sees that it was removed and starts again).
A process may re-enter a lock it holds (compare's save inside the CLI's lock, an export inside ensure_file's).
On a file system without flock (some network mounts) the work goes on unlocked, with a warning.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import json
import logging
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mldrnet.errors import BenchError
from mldrnet.io.atomic import os_error

log = logging.getLogger(__name__)

SUFFIX = ".lock"
_held: dict[str, int] = {}  # lock files this process holds -> depth


def lock_file_for(path: str | os.PathLike) -> Path:
    """The lock file of one file: `<name>.lock` beside it."""
    path = Path(path)
    return path.with_name(path.name + SUFFIX)


def _holder() -> dict:
    command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv and sys.argv[0] else ""
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "command": command[:200],
    }


def describe_holder(raw: bytes) -> str:
    try:
        h = json.loads(raw.decode())
        text = f"pid {int(h['pid'])} on {h['host']} since {h['since']}"
        return text + (f", `{h['command']}`" if h.get("command") else "")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return "a process that has not said who it is yet"


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _acquire(path: Path, what: str) -> int | None:
    """The locked file's descriptor (None when the file system has no locks); BenchError when another holds it."""
    for _ in range(100):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise os_error(e, path, f"lock {what} with") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                raw = os.pread(fd, 4096, 0)
            except OSError:
                raw = b""
            os.close(fd)
            raise BenchError(
                f"{what} is in use by another bench process ({describe_holder(raw)}): wait until it "
                f"ends, or stop it (its lock is {path})"
            ) from None
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                log.warning(
                    f"{path.parent} cannot be locked ({e.strerror}): nothing stops a second process "
                    f"from writing {what} at the same time"
                )
                return None
            raise os_error(e, path, f"lock {what} with") from None
        if not _same_file(fd, path):  # removed by its previous holder after we opened it: take the new one
            os.close(fd)
            continue
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(_holder()).encode(), 0)
        except OSError:
            pass  # a full disk: the lock holds anyway, only the holder's name is missing
        return fd
    raise BenchError(f"cannot lock {what}: {path} keeps being replaced by other processes")


def _release(path: Path, fd: int | None) -> None:
    if fd is None:
        return
    try:
        if _same_file(fd, path):
            os.unlink(path)  # still held: whoever opened it meanwhile sees it gone and opens the new one
    except OSError:
        pass  # a read-only folder by now: the lock is released all the same
    finally:
        os.close(fd)


@contextmanager
def exclusive(lock_file: str | os.PathLike, what: str) -> Iterator[None]:
    """Hold `lock_file` exclusively for the block; `what` names the thing it guards in the refusal."""
    path = Path(lock_file)
    key = os.path.realpath(path)
    if key in _held:
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    fd = _acquire(path, what)
    _held[key] = 1
    try:
        yield
    finally:
        del _held[key]
        _release(path, fd)


def held(lock_file: str | os.PathLike) -> bool:
    """Whether this process holds `lock_file`."""
    return os.path.realpath(lock_file) in _held
