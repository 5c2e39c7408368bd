"""The drawing primitives every synthetic set shares: one image of a (palette, composition, shape) cue triple,
the camera (blur, pixel noise), the palette colours, backgrounds, shapes. Deterministic for a numpy Generator.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def draw_emotion(
    rng: np.random.Generator,
    size: int,
    cues: tuple[str, str, str],
    *,
    clutter=(0, 5, 0.06),
    noise: float = 8.0,
    blur: tuple[float, float] | None = None,
) -> Image.Image:
    """One image showing `cues` (palette, composition, shape): drawn at 2x and box-downsampled, for smooth
    edges. clutter = (min, max + 1 distractors, their largest radius as a fraction of the side); noise: the
    largest pixel-noise sigma; blur: a Gaussian blur radius range in px at 128 px (None: no blur, and no
    random number drawn for it)."""
    palette, composition, family = cues
    s = 2 * size
    # The background is smooth: render it at the output size and upsample (4x fewer pixels to compute).
    img = Image.fromarray(background(rng, size, warm=palette == "warm")).resize((s, s), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(clutter[0], clutter[1]))):  # distractors: small, greyish, any shape, anywhere
        xy = rng.uniform(0.05, 0.95, 2) * s
        pts = shape(rng, xy, rng.uniform(0.025, clutter[2]) * s, rng.random() < 0.5)
        draw.polygon(pts, fill=hsv(rng.random(), rng.uniform(0, 0.3), rng.uniform(0.2, 0.9)))
    centre = place(rng, composition)
    pts = shape(rng, centre * s, rng.uniform(0.15, 0.24) * s, family == "jagged")
    colour = palette_colour(rng, palette == "warm")
    outline = hsv(rng.random(), rng.uniform(0, 0.5), rng.uniform(0, 1)) if rng.random() < 0.5 else None
    draw.polygon(pts, fill=colour, outline=outline, width=int(rng.integers(1, 5)))
    return finish(rng, img.reduce(2), noise, blur)


# composition's off-centre band: distances from the centre, as fractions of the side (centred: sd 0.03)
OFF_CENTRE = (0.14, 0.3)


def place(rng: np.random.Generator, composition: str) -> np.ndarray:
    """Where the composition cue puts the main shape, (x, y) as fractions of the side: near the centre, or anywhere
    on a band around it, at any angle. A band, not grid points: the cue once sat on the four rule-of-thirds points,
    which are cells of MldrNet's 3x3 branch pooling, so the data favoured the architecture under test. On the band
    an off-centre shape falls in the middle cell of that grid, in an edge cell or in a corner cell, by its draw."""
    if composition == "centred":
        return 0.5 + rng.normal(0, 0.03, 2)
    angle, radius = rng.uniform(0, 2 * math.pi), rng.uniform(*OFF_CENTRE)
    return 0.5 + radius * np.array([math.cos(angle), math.sin(angle)])


def finish(
    rng: np.random.Generator, img: Image.Image, noise: float, blur: tuple[float, float] | None = None
) -> Image.Image:
    """The camera: an optional blur (radius range at 128 px, scaled to the image), then pixel noise."""
    if blur is not None:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(*blur) * img.width / 128))
    small = np.asarray(img, dtype=np.float32)
    small += rng.standard_normal(small.shape, dtype=np.float32) * rng.uniform(0, noise)
    return Image.fromarray(np.clip(small, 0, 255).astype(np.uint8))


def palette_colour(rng: np.random.Generator, warm: bool) -> tuple[int, int, int]:
    """The palette cue: warm (red-yellow hues, bright) or dark / cool (cyan-violet hues)."""
    if warm:
        return hsv(rng.uniform(-0.08, 0.16) % 1.0, rng.uniform(0.55, 1.0), rng.uniform(0.75, 1.0))
    return hsv(rng.uniform(0.5, 0.78), rng.uniform(0.35, 0.85), rng.uniform(0.3, 0.7))


def background(rng: np.random.Generator, s: int, *, warm: bool) -> np.ndarray:
    hue, sat = rng.random(), rng.uniform(0, 0.35)
    light = rng.uniform(0.55, 0.95) if warm else rng.uniform(0.08, 0.45)
    c1 = np.array(hsv(hue, sat, light), np.float32)
    c2 = np.array(
        hsv((hue + rng.uniform(-0.15, 0.15)) % 1.0, sat, np.clip(light + rng.uniform(-0.2, 0.2), 0, 1)), np.float32
    )
    angle = rng.uniform(0, 2 * math.pi)
    x = (np.arange(s, dtype=np.float32) / s)[None, :]
    y = x.T
    t = (x - 0.5) * math.cos(angle) + (y - 0.5) * math.sin(angle) + 0.5
    if rng.random() < 0.3:  # faint stripes: texture that carries no label
        t = t + 0.08 * np.sin(2 * math.pi * rng.uniform(4, 14) * (x * math.sin(angle) - y * math.cos(angle)))
    t = np.clip(t, 0, 1)[..., None]
    return (c1 * (1 - t) + c2 * t).astype(np.uint8)


def shape(rng: np.random.Generator, centre: np.ndarray, r: float, jagged: bool) -> list[tuple[float, float]]:
    """Polygon vertices: a star / spiky polygon (jagged) or an ellipse / smooth blob (rounded)."""
    if jagged:
        points = int(rng.integers(3, 9))
        theta = np.linspace(0, 2 * math.pi, 2 * points, endpoint=False)
        radius = np.where(np.arange(2 * points) % 2 == 0, 1.0, rng.uniform(0.35, 0.6)) * rng.uniform(
            0.9, 1.1, 2 * points
        )
        aspect = 1.0
    else:
        theta = np.linspace(0, 2 * math.pi, 48, endpoint=False)
        radius = 1 + rng.uniform(0, 0.12) * np.sin(int(rng.integers(2, 4)) * theta + rng.uniform(0, 2 * math.pi))
        aspect = rng.uniform(0.7, 1.0)
    rot = rng.uniform(0, 2 * math.pi)
    x, y = r * radius * np.cos(theta), r * aspect * radius * np.sin(theta)
    xr, yr = x * math.cos(rot) - y * math.sin(rot), x * math.sin(rot) + y * math.cos(rot)
    return list(zip((centre[0] + xr).tolist(), (centre[1] + yr).tolist()))


def hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    i, f = int(h * 6) % 6, h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    r, g, b = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return int(round(255 * r)), int(round(255 * g)), int(round(255 * b))
