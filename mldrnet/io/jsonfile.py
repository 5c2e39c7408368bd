"""The one bounded JSON reader: every JSON document bench reads from a file or an option goes through `loads` or
`read_json`, which refuse in one BenchError line naming the file (or option):

- a file larger than `max_bytes` (checked before it is read: a 20 GB file is never read whole);
- nesting deeper than `max_depth` (Python's parser and the validators recurse: a document 1000 levels deep
  would end in a RecursionError);
- an integer of more digits than any real value has (Python refuses to convert over 4300 digits): it is read as
  an integer too large for a float, which the strict readers name as such; a value that must be finite fails;
- a key twice in one object (`object_pairs_hook`: a hand-edited file must not pass on its last duplicate, e.g.
  `"error": "CRASHED"` followed by `"error": null`);
- text that is not UTF-8 JSON.
NaN and the infinities are parsed (json's default) and left to the strict readers to refuse with the field's name.
No torch here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mldrnet.errors import BenchError

MAX_JSON_BYTES = 64 * 2**20  # records.json of a thousand rows is a few MB
MAX_JSON_DEPTH = 64  # bench writes at most ~5 levels
MAX_INT_DIGITS = 400  # more than any count or size; the first beyond a float's range
HUGE_INT = 10**MAX_INT_DIGITS  # what a longer integer reads as: "an integer too large for a float"


class DuplicateKey(ValueError):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(key)
        out[key] = value
    return out


def _int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        return -HUGE_INT if text.startswith("-") else HUGE_INT
    return int(text)


def depth(value: Any) -> int:
    """Nesting depth of a JSON value (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if isinstance(node, dict):
            stack.extend((v, d + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, d + 1) for v in node)
    return deepest


def loads(text: str | bytes, where: str, max_depth: int = MAX_JSON_DEPTH, fix: str = "") -> Any:
    """`text` parsed as JSON, bounded as the module says; a failure is one BenchError line naming `where`."""
    tail = f": {fix}" if fix else ""
    try:
        value = json.loads(text, object_pairs_hook=_pairs, parse_int=_int)
    except DuplicateKey as e:
        raise BenchError(
            f"{where} holds the key {str(e)[:60]!r} twice in one object{tail or ': a hand-edited file?'}"
        ) from None
    except RecursionError:
        raise BenchError(f"{where} is nested deeper than {max_depth} levels{tail}") from None
    except (ValueError, UnicodeDecodeError) as e:  # json.JSONDecodeError is a ValueError
        raise BenchError(f"{where} is not valid JSON ({str(e).splitlines()[0][:120]}){tail}") from None
    if depth(value) > max_depth:
        raise BenchError(f"{where} is nested deeper than {max_depth} levels{tail}")
    return value


def read_json(
    path: str | os.PathLike, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH, fix: str = ""
) -> Any:
    """A JSON file's content, bounded (size checked before reading); an unreadable, oversized or corrupt file is
    one BenchError line naming it."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise BenchError(
                f"{path} is {size / 2**20:.0f} MiB, more than the {max_bytes / 2**20:.0f} MiB a bench JSON file "
                f"may hold{': ' + fix if fix else ': not a file bench wrote'}"
            )
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise BenchError(f"cannot read {path}: {e.strerror or e}") from None
    if len(data) > max_bytes:  # grew while we looked
        raise BenchError(f"{path} is larger than the {max_bytes / 2**20:.0f} MiB a bench JSON file may hold")
    return loads(data, str(path), max_depth, fix)
