"""Robust image decoding: every image the harness reads goes through `decode_image`.

Real emotion datasets are scraped from the web: they hold CMYK and grayscale JPEGs, palette and RGBA PNGs,
16-bit scans, rotated phone photos, truncated downloads, HTML error pages saved as .jpg and empty files.
`decode_image` returns an RGB image with EXIF orientation applied, or raises `UnreadableImage` with a one-line
reason; the loader turns that into a skipped sample and a warning instead of a crash mid-epoch.
"""

from __future__ import annotations

import errno
import os
import stat
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mldrnet.errors import BenchError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
_ORIENTATION = 0x0112
_WHITE = (255, 255, 255)


class UnreadableImage(BenchError):
    """An image file that cannot be decoded; `reason` is one line, `path` the file."""

    def __init__(self, path: str | os.PathLike, reason: str):
        super().__init__(f"{printable(path)}: {reason}")
        self.path = os.fsdecode(path)  # the real name (may hold surrogate escapes); printable(path) to show it
        self.reason = reason


def printable(path: str | bytes | os.PathLike) -> str:
    """`path` as text that any terminal, log or JSON writer accepts: a file name that is not valid UTF-8 (kept by
    Python as surrogate escapes, e.g. 'caf\\udce9.jpg') shows its raw bytes as \\xNN ('caf\\xe9.jpg')."""
    text = os.fsdecode(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return text


def is_image_name(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS)


def decode_image(path: str | os.PathLike, *, min_size: int | None = None) -> Image.Image:
    """Decode `path` to an RGB PIL image, EXIF orientation applied.

    `min_size` lets libjpeg decode a large JPEG at 1/2, 1/4 or 1/8 scale while keeping both sides >= min_size
    (the loader passes the resize target): a 4000 px photo then decodes several times faster. Pixels differ
    slightly from a full decode + resize, so every consumer that must agree (train, compare, engines) goes
    through the same loader.
    """
    path = Path(os.fsdecode(path))  # bytes paths too (any encoding)
    _check_file(path)
    try:
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that; a bomb is a bomb either way.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if min_size and img.format == "JPEG":
                    img.draft("RGB", (min_size, min_size))
                img.load()
                return _to_rgb(_orient(img))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise UnreadableImage(path, f"decompression bomb ({_first_line(e)})") from None
    except UnidentifiedImageError:
        raise UnreadableImage(path, "not an image (format not recognised)") from None
    except MemoryError:
        raise
    except OSError as e:
        raise UnreadableImage(path, _os_reason(e) or _corrupt(e)) from None
    except Exception as e:  # PIL raises OSError, SyntaxError, ValueError, EOFError, struct.error... on bad data
        raise UnreadableImage(path, _corrupt(e)) from None


def probe_image(path: str | os.PathLike) -> str | None:
    """A quick check without decoding pixels (for `bench data info`): the reason the file is bad, or None.

    Catches empty, missing, non-image and bomb files from the header, and truncated JPEG/PNG files from a
    missing end marker; only a full `decode_image` (what `bench data verify` does) catches corrupt data.
    """
    path = Path(os.fsdecode(path))  # bytes paths too (any encoding)
    try:
        _check_file(path)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                fmt = img.format
    except UnreadableImage as e:
        return e.reason
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        return f"decompression bomb ({_first_line(e)})"
    except UnidentifiedImageError:
        return "not an image (format not recognised)"
    except Exception as e:
        return (isinstance(e, OSError) and _os_reason(e)) or f"corrupt header ({type(e).__name__}: {_first_line(e)})"
    end = {"JPEG": b"\xff\xd9", "PNG": b"IEND\xaeB`\x82"}.get(fmt or "")
    if end is not None:
        try:
            with open(path, "rb") as f:
                f.seek(max(0, path.stat().st_size - 1024))
                tail = f.read().rstrip(b"\x00\r\n\t ")  # some writers pad after the end marker
        except OSError as e:
            return _os_reason(e) or f"unreadable ({e})"
        if not tail.endswith(end):
            return f"truncated ({fmt} end marker missing)"
    return None


def _check_file(path: Path) -> None:
    """Refuse what is no regular file before opening it (a FIFO would block the open), with the reason a user
    can act on: missing, dangling symlink, symlink loop, unreadable, a folder, a special file, empty."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise UnreadableImage(path, _stat_reason(path, e)) from None
    if stat.S_ISDIR(st.st_mode):
        raise UnreadableImage(path, "is a folder, not an image file")
    if not stat.S_ISREG(st.st_mode):
        raise UnreadableImage(path, "not a file (a FIFO, socket or device, not an image file)")
    if st.st_size == 0:
        raise UnreadableImage(path, "empty file (0 bytes)")


def _stat_reason(path: Path, e: OSError) -> str:
    if e.errno == errno.ELOOP:
        return "symlink loop (too many levels of symbolic links)"
    if e.errno == errno.ENOENT and os.path.islink(path):
        try:
            target = printable(os.readlink(path))
        except OSError:
            target = "?"
        return f"dangling symlink (its target {target} does not exist)"
    if e.errno in (errno.ENOENT, errno.ENOTDIR):
        return "does not exist (file not found)"
    return _os_reason(e) or f"cannot stat ({e.strerror})"


def _os_reason(e: OSError) -> str | None:
    """The reason for an OSError from the system (errno set), None for Pillow's own OSErrors about bad data."""
    if e.errno is None:
        return None
    if e.errno == errno.EISDIR:
        return "is a folder, not an image file"
    if e.errno == errno.ELOOP:
        return "symlink loop (too many levels of symbolic links)"
    if e.errno == errno.ENOENT:
        return "does not exist (file not found)"
    return f"unreadable ({e.strerror or errno.errorcode.get(e.errno, e.errno)})"


def _corrupt(e: BaseException) -> str:
    return f"corrupt or truncated ({type(e).__name__}: {_first_line(e)})"


def _orient(img: Image.Image) -> Image.Image:
    try:
        orientation = img.getexif().get(_ORIENTATION, 1)
    except Exception:  # a malformed EXIF block is no reason to lose the picture
        return img
    return ImageOps.exif_transpose(img) if orientation in range(2, 9) else img


def _to_rgb(img: Image.Image) -> Image.Image:
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        # Transparent pixels keep arbitrary colours underneath; compositing on white is what viewers show.
        rgba = img.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, _WHITE + (255,)), rgba).convert("RGB")
    if mode.startswith("I;16") or mode in ("I", "F"):
        return _high_depth_to_rgb(img)
    return img.convert("RGB")  # L, 1, P, CMYK (Adobe-inverted handled by Pillow), YCbCr, LAB, HSV


def _high_depth_to_rgb(img: Image.Image) -> Image.Image:
    # Pillow's convert("RGB") clips 16-bit values at 255 (a white image); scale the range down instead.
    arr = np.asarray(img)
    if img.mode == "F":
        arr = arr * 255.0 if arr.size and float(arr.max()) <= 1.0 else arr
    elif img.mode.startswith("I;16") or (arr.size and int(arr.max()) > 255):
        arr = arr / 257.0
    gray = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    return Image.fromarray(gray, "L").convert("RGB")


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else "no detail"
