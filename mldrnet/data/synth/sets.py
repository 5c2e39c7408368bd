"""The small built-in synthetic sets, stand-ins for the paper's small-set experiments (Figs. 8-10: ArtPhoto,
Abstract, IAPS-Subset) and MART (Table IV). Registered as datasets `synth-<kind>`, generated on first use like
`synth` (see synth.py: same writing code, same FI folder layout, `SynthParams(kind=...)`), each with a fixed
size: the real set's class counts (`COUNTS`), so a given synth_n is ignored for them.

The three 8-emotion sets carry their labels by the SAME cues as `synth` (synth.CUES: palette, composition,
shape per emotion), so a model trained on `synth` transfers by retraining its last layer. Their images come
from other RNG streams than `synth`'s (seed, class, index, `_STREAM`, kind), so no image is shared with it or
between them. Each changes the nuisances, to give the set a character:

- artphoto: like synth (one main shape in the palette's colour, placed by the composition, of the shape
  family) with photographic degradation: a Gaussian blur of 0.4-1.6 px (at 128 px) and pixel noise up to
  sigma 20 (synth: 8, no blur).
- abstract: no single main object. Palette: 4-8 smaller shapes (radius 5-11% of the side) and 1-3 strokes in
  the palette's colours, on the palette's background. Composition: the shapes cluster (sd 12% of the side)
  around the centre or a point of the off-centre band (draw.place). Shape: the shapes' family, the strokes
  (zigzags for jagged, arcs for rounded) and a background texture (hard-edged zigzag stripes for jagged, soft
  rings for rounded). So colour and texture carry more than one object's outline, as the paper says of the
  Abstract paintings.
- iaps: synth's scene with much more clutter: 4-12 distractor shapes (synth: 0-4), up to twice as large.

`synth-mart` is positive / negative (`labels.POLARITY` order) abstract compositions, 250 + 250 images:
4-9 shapes scattered over the whole image (no central object) on a plain or blotchy background. Three cues,
each of which agrees with the label on exactly `AGREE` = 80% of each class's images (which 20% disagree is a
seeded draw per class and cue, independent between the cues, so the realised rates are exact, not sampled):

- hue harmony: harmonious = the shapes' hues within +-0.07 of one base hue, the background near it;
  clashing = the shapes alternate between the base hue and its complement, the background a quarter turn away.
- lightness: bright = shapes value 0.7-1.0 on a light background; dark = value 0.2-0.5 on a dark background.
- shape: rounded = ellipses and smooth blobs; sharp = stars and spiky polygons.

Positive is harmonious + bright + rounded, negative clashing + dark + sharp. One cue alone, or colour alone (two
cues: harmony and lightness), gives at best 80%; reading all three (majority) gives 0.8^3 + 3 * 0.8^2 * 0.2
= 89.6%. Saturation, base hue, shape count, size, position and rotation are nuisances.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from mldrnet import EMOTIONS
from mldrnet.data.labels import POLARITY
from mldrnet.data.synth.draw import background, draw_emotion, finish, hsv, palette_colour, place, shape
from mldrnet.data.synth.emotions import CUES
from mldrnet.data.synth.params import COUNTS, STREAM_ID, SynthParams

AGREE = 0.8  # synth-mart: probability that each cue agrees with the label
# synth-mart's stars are drawn larger, to cover about the area of its blobs (a star of inner radius ~0.47 covers
# about half the area of the ellipse of the same outer radius): else colour statistics would see the shape cue.
_STAR_SCALE = 1.4
_STREAM = 7919  # tags these sets' RNG streams apart from synth's (seed, class, index)


def cues(kind: str) -> dict:
    """What carries the labels, for the set's synth.json marker."""
    if kind == "mart":
        return {
            "positive": ["harmonious", "bright", "rounded"],
            "negative": ["clashing", "dark", "sharp"],
            "agreement": AGREE,
        }
    return {e: list(c) for e, c in CUES.items()}


def _rng(params: SynthParams, label: int, k: int) -> np.random.Generator:
    return np.random.default_rng([params.seed, label, k, _STREAM, STREAM_ID[params.kind]])


def render(params: SynthParams, label: int, k: int) -> Image.Image:
    """Image k of class `label` of the set `params.kind`."""
    if params.kind == "mart":
        return _mart(params, label, k)
    rng = _rng(params, label, k)
    cue = CUES[EMOTIONS[label]]
    if params.kind == "artphoto":
        return draw_emotion(rng, params.size, cue, noise=20.0, blur=(0.4, 1.6))
    if params.kind == "iaps":
        return draw_emotion(rng, params.size, cue, clutter=(4, 13, 0.12), noise=10.0)
    return _abstract(rng, params.size, cue)


def _abstract(rng: np.random.Generator, size: int, cue: tuple[str, str, str]) -> Image.Image:
    palette, composition, family = cue
    warm, jagged, s = palette == "warm", family == "jagged", 2 * size
    bg = _texture(rng, background(rng, size, warm=warm), jagged)
    img = Image.fromarray(bg).resize((s, s), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(img)
    centre = place(rng, composition)
    for _ in range(int(rng.integers(4, 9))):
        xy = np.clip(centre + rng.normal(0, 0.12, 2), 0.05, 0.95) * s
        draw.polygon(shape(rng, xy, rng.uniform(0.05, 0.11) * s, jagged), fill=palette_colour(rng, warm))
    for _ in range(int(rng.integers(1, 4))):
        _stroke(rng, draw, s, jagged, palette_colour(rng, warm))
    return finish(rng, img.reduce(2), 6.0)


def _texture(rng: np.random.Generator, bg: np.ndarray, jagged: bool) -> np.ndarray:
    """The shape cue as texture: hard-edged zigzag stripes (jagged) or soft concentric rings (rounded)."""
    s = bg.shape[0]
    x = (np.arange(s, dtype=np.float32) / s)[None, :]
    y = x.T
    if jagged:
        a = rng.uniform(0, math.pi)
        u, v = x * math.cos(a) + y * math.sin(a), y * math.cos(a) - x * math.sin(a)
        freq = rng.uniform(6, 12)
        zig = np.abs((v * 2 * freq) % 2 - 1) / (2 * freq)  # a triangle wave across the stripes
        pattern = np.sign(np.sin(2 * math.pi * freq * (u + zig)))
    else:
        cx, cy = rng.uniform(0, 1, 2)
        pattern = np.sin(2 * math.pi * rng.uniform(2, 5) * np.hypot(x - cx, y - cy))
    amp = rng.uniform(0.08, 0.16)
    out = bg.astype(np.float32) * (1 + amp * pattern[..., None])
    return np.clip(out, 0, 255).astype(np.uint8)


def _stroke(rng: np.random.Generator, draw: ImageDraw.ImageDraw, s: int, jagged: bool, colour) -> None:
    """A zigzag polyline (jagged) or an arc (rounded), somewhere in the image."""
    width = int(rng.integers(2, 6)) * s // 256 + 1
    x0, y0 = rng.uniform(0.1, 0.6, 2) * s
    length = rng.uniform(0.2, 0.4) * s
    if jagged:
        n = int(rng.integers(4, 8))
        xs = x0 + np.linspace(0, length, n)
        ys = y0 + np.where(np.arange(n) % 2 == 0, 0.0, rng.uniform(0.05, 0.12) * s)
        draw.line(list(zip(xs.tolist(), ys.tolist())), fill=colour, width=width)
    else:
        start = rng.uniform(0, 360)
        draw.arc([x0, y0, x0 + length, y0 + length], start, start + rng.uniform(90, 270), fill=colour, width=width)


def mart_design(params: SynthParams, label: int, k: int) -> tuple[np.random.Generator, bool, bool, bool]:
    """(the image's RNG, harmonious, bright, rounded): each cue says "positive" when it agrees with a positive
    label or disagrees with a negative one."""
    positive = POLARITY[label] == "positive"
    off = _disagreeing(params.seed, label, COUNTS["mart"][label])
    harmonious, bright, rounded = ((k not in cue) == positive for cue in off)
    return _rng(params, label, k), harmonious, bright, rounded


@lru_cache(maxsize=16)
def _disagreeing(seed: int, label: int, count: int) -> tuple[frozenset[int], ...]:
    """Per cue (harmony, lightness, shape), the images of the class on which it disagrees with the label."""
    n_off = round((1 - AGREE) * count)
    streams = [np.random.default_rng([seed, label, _STREAM, STREAM_ID["mart"], 100 + cue]) for cue in range(3)]
    return tuple(frozenset(rng.permutation(count)[:n_off].tolist()) for rng in streams)


def _mart(params: SynthParams, label: int, k: int) -> Image.Image:
    rng, harmonious, bright, rounded = mart_design(params, label, k)
    size, s = params.size, 2 * params.size
    base = rng.random()
    bg_hue = base + (rng.uniform(-0.1, 0.1) if harmonious else 0.25 * rng.choice([-1, 1]) + rng.uniform(-0.05, 0.05))
    light = rng.uniform(0.6, 0.95) if bright else rng.uniform(0.05, 0.35)
    bg = np.empty((size, size, 3), np.float32)
    bg[:] = hsv(bg_hue % 1.0, rng.uniform(0, 0.4), light)
    if rng.random() < 0.5:  # blotchy texture: a nuisance
        blotch = Image.fromarray(rng.normal(0, 1, (4, 4)).astype(np.float32)).resize(
            (size, size), Image.Resampling.BILINEAR
        )
        bg += np.asarray(blotch)[..., None] * rng.uniform(8, 20)
    img = Image.fromarray(np.clip(bg, 0, 255).astype(np.uint8)).resize((s, s), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(img)
    for i in range(int(rng.integers(4, 10))):
        hue = base + (rng.uniform(-0.07, 0.07) if harmonious else 0.5 * (i % 2) + rng.uniform(-0.04, 0.04))
        value = rng.uniform(0.7, 1.0) if bright else rng.uniform(0.2, 0.5)
        colour = hsv(hue % 1.0, rng.uniform(0.35, 0.95), value)
        xy = rng.uniform(0.1, 0.9, 2) * s
        radius = rng.uniform(0.06, 0.16) * s * (1.0 if rounded else _STAR_SCALE)
        draw.polygon(shape(rng, xy, radius, not rounded), fill=colour)
    return finish(rng, img.reduce(2), 6.0)
