"""Text from outside (file names, checkpoint class names, the model and error fields of records.json) made safe to
show: every C0/C1 control character (ESC above all) and every byte of a name that was not UTF-8 becomes a visible
\\xNN. The CLI's console (bench.cli.console) shows every message and table cell through `shown`; the plots get
`plot_text`, which also keeps matplotlib from reading a `$` as the start of a formula. Torch-free.
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls, and lone surrogates (bytes of a name that was not UTF-8)
UNSHOWABLE = re.compile("[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f\\ud800-\\udfff]")


def _visible(m: re.Match) -> str:
    code = ord(m.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by Python as a surrogate escape
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(text: object) -> str:
    """`text` as plain text safe for a terminal, a log or a table cell: each control character (ESC, BEL, CR,
    C1 ...) and each byte of a name that was not UTF-8 as a visible \\xNN; tab and newline kept."""
    return UNSHOWABLE.sub(_visible, str(text))


def plot_text(text: object) -> str:
    """`shown(text)` for a matplotlib label: a `$` is a dollar sign, not the start of a formula."""
    return shown(text).replace("$", r"\$")
