"""Image preparation shared by the feature methods."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

TARGET_PIXELS = 200_000  # Machajdik & Hanbury resize every image to about 200k pixels before extraction


def as_rgb_uint8(image) -> np.ndarray:
    """A PIL image or an array (gray (H, W), RGB or RGBA (H, W, 3|4), any numeric dtype) -> RGB uint8 (H, W, 3)."""
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ValueError(f"expected an RGB image (H, W, 3), got shape {arr.shape}")
    arr = arr[..., :3]
    if arr.dtype != np.uint8:
        scale = 255.0 if np.issubdtype(arr.dtype, np.floating) and arr.max(initial=0) <= 1.0 else 1.0
        arr = np.clip(arr.astype(np.float64) * scale, 0, 255).round().astype(np.uint8)
    return np.ascontiguousarray(arr)


def resize_to_pixels(image, pixels: int = TARGET_PIXELS) -> np.ndarray:
    """RGB uint8 with at most about `pixels` pixels and the same aspect ratio. Larger images are scaled down, as
    Machajdik & Hanbury did; smaller ones are kept (upscaling adds no information, only time: the built-in
    synthetic images are 128 px and the quick profile's crops 64 px), except that a side under 8 px is raised."""
    arr = as_rgb_uint8(image)
    h, w = arr.shape[:2]
    scale = min(1.0, math.sqrt(pixels / max(h * w, 1)))
    scale = max(scale, 8 / max(min(h, w), 1)) if min(h, w) < 8 else scale
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    if size == (w, h):
        return arr
    return np.asarray(Image.fromarray(arr).resize(size, Image.Resampling.BILINEAR))
