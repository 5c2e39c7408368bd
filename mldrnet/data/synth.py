"""The built-in synthetic emotion dataset: deterministic for a seed, seconds to generate, FI's on-disk layout.

Each label is a combination of one cue at each of the three levels the paper argues for:

    emotion      palette (low: colour)    composition (mid)    shape (high)
    amusement    bright / warm            off-centre           rounded
    awe          bright / warm            centred              jagged
    contentment  bright / warm            centred              rounded
    excitement   bright / warm            off-centre           jagged
    anger        dark / cool              centred              jagged
    disgust      dark / cool              off-centre           rounded
    fear         dark / cool              off-centre           jagged
    sadness      dark / cool              centred              rounded

The palette sets the main shape's colour (warm: red-yellow hues, bright; cool: cyan-violet hues, dark) and the
background's lightness; composition places the main shape at the centre or near a rule-of-thirds point (still
visible in the corner crops); shapes are ellipses and smooth blobs, or stars and spiky polygons. Nuisances,
independent of the label: background hue and gradient, shape size, rotation, aspect and outline, jitter of the
position, small low-saturation distractor shapes, faint stripes, pixel noise and JPEG compression. So no single
pixel statistic gives the label away: the palette is easy, composition and shape need spatial features.

Image k of class c is drawn from its own RNG stream (seed, c, k), so a larger set extends a smaller one. The
set is written to a temporary folder and renamed into place, so an interrupted run never leaves half a dataset.

`SynthParams.kind` picks the set: "emotions" (the default, described above) or one of the small fixed-size sets
of `synth_sets.py` (artphoto, abstract, iaps: the same cues with other nuisances and the real sets' class
counts; mart: positive / negative abstract compositions). Those are registered as datasets `synth-<kind>`.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from mldrnet import EMOTIONS
from mldrnet.errors import BenchError

FORMAT = "bench-synth/1"
DEFAULT_KIND = "emotions"
MARKER = "synth.json"
CUES = {
    "amusement": ("warm", "off-centre", "rounded"),
    "awe": ("warm", "centred", "jagged"),
    "contentment": ("warm", "centred", "rounded"),
    "excitement": ("warm", "off-centre", "jagged"),
    "anger": ("dark", "centred", "jagged"),
    "disgust": ("dark", "off-centre", "rounded"),
    "fear": ("dark", "off-centre", "jagged"),
    "sadness": ("dark", "centred", "rounded"),
}


@dataclass(frozen=True)
class SynthParams:
    n: int = 2400  # ignored (replaced by the fixed total) for the fixed-count kinds of synth_sets.COUNTS
    size: int = 128
    seed: int = 0
    kind: str = DEFAULT_KIND  # "emotions" or a kind of synth_sets.KINDS

    def __post_init__(self):
        counts = _sets().COUNTS.get(self.kind)
        if counts is not None:  # a fixed-count kind: its size is its class counts' total, whatever n was given
            object.__setattr__(self, "n", sum(counts))

    @property
    def key(self) -> str:
        """Folder name and split-file key: different parameters never share files. The default kind's key
        stays what it always was (split files and baselines name it)."""
        if self.kind == DEFAULT_KIND:
            return f"synth-n{self.n}-px{self.size}-seed{self.seed}"
        return f"synth-{self.kind}-px{self.size}-seed{self.seed}"

    @property
    def classes(self) -> tuple[str, ...]:
        return EMOTIONS if self.kind == DEFAULT_KIND else _sets().classes(self.kind)

    def per_class(self) -> list[int]:
        """Images per class: the fixed counts of the kind, or balanced with the first n % 8 classes one more."""
        if self.kind != DEFAULT_KIND:
            return list(_sets().COUNTS[self.kind])
        base, extra = divmod(self.n, len(EMOTIONS))
        return [base + (c < extra) for c in range(len(EMOTIONS))]

    def to_json(self) -> dict:
        """The marker's "params": without "kind" for the default kind, as markers always were."""
        d = asdict(self)
        if self.kind == DEFAULT_KIND:
            del d["kind"]
        return d


def _sets():
    """synth_sets, imported on use: it builds on this module's drawing helpers."""
    from mldrnet.data import synth_sets

    return synth_sets


def read_params(out: Path) -> SynthParams | None:
    """The parameters of the synthetic set in `out`, or None when `out` holds none."""
    marker = Path(out) / MARKER
    if not marker.is_file():
        return None
    try:
        return SynthParams(**json.loads(marker.read_text())["params"])  # markers without "kind": the default kind
    except (OSError, ValueError, KeyError, TypeError):
        raise BenchError(f"{marker} is damaged; delete {out} to generate the synthetic set again") from None


def ensure_synth(params: SynthParams, out: Path) -> Path:
    """The dataset folder `out` (holding emotion_dataset/), generated unless it already holds these parameters."""
    _check(params)
    out = Path(out)
    found = read_params(out)
    if found is not None:
        if found != params:
            raise BenchError(f"{out} holds a synthetic set with {found.to_json()}, not {params.to_json()}; "
                             f"choose another folder or delete it")
        return out
    if out.exists() and any(out.iterdir()):
        raise BenchError(f"{out} exists and is not a synthetic dataset; choose an empty or new folder")
    return generate(params, out)


def generate(params: SynthParams, out: Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        width = max(4, len(str(max(params.per_class()) - 1)))
        for label, (emotion, count) in enumerate(zip(params.classes, params.per_class())):
            folder = tmp / "emotion_dataset" / emotion
            folder.mkdir(parents=True)
            for k in range(count):
                render(params, label, k).save(folder / f"{emotion}_{k:0{width}d}.jpg", quality=90)
        cues = CUES if params.kind == DEFAULT_KIND else _sets().cues(params.kind)
        meta = {"format": FORMAT, "params": params.to_json(), "cues": cues}
        (tmp / MARKER).write_text(json.dumps(meta, indent=2))
        if out.exists() and not any(out.iterdir()):
            out.rmdir()
        try:
            tmp.rename(out)
        except OSError:
            if not (out / MARKER).is_file():  # not another process that finished the same set first
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def render(params: SynthParams, label: int, k: int) -> Image.Image:
    """Image k of class `label` (an index into `params.classes`)."""
    if params.kind != DEFAULT_KIND:
        return _sets().render(params, label, k)
    rng = np.random.default_rng([params.seed, label, k])
    return draw_emotion(rng, params.size, CUES[EMOTIONS[label]])


def draw_emotion(rng: np.random.Generator, size: int, cues: tuple[str, str, str], *, clutter=(0, 5, 0.06),
                 noise: float = 8.0, blur: tuple[float, float] | None = None) -> Image.Image:
    """One image showing `cues` (palette, composition, shape): drawn at 2x and box-downsampled, for smooth
    edges. clutter = (min, max + 1 distractors, their largest radius as a fraction of the side); noise: the
    largest pixel-noise sigma; blur: a Gaussian blur radius range in px at 128 px (None: no blur, and no
    random number drawn for it)."""
    palette, composition, family = cues
    s = 2 * size
    # The background is smooth: render it at the output size and upsample (4x fewer pixels to compute).
    img = Image.fromarray(_background(rng, size, warm=palette == "warm")).resize((s, s), Image.BILINEAR)
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(clutter[0], clutter[1]))):  # distractors: small, greyish, any shape, anywhere
        xy = rng.uniform(0.05, 0.95, 2) * s
        pts = _shape(rng, xy, rng.uniform(0.025, clutter[2]) * s, rng.random() < 0.5)
        draw.polygon(pts, fill=_hsv(rng.random(), rng.uniform(0, 0.3), rng.uniform(0.2, 0.9)))
    if composition == "centred":
        centre = 0.5 + rng.normal(0, 0.03, 2)
    else:
        centre = 0.5 + rng.choice([-1, 1], 2) * rng.uniform(0.19, 0.24, 2)
    pts = _shape(rng, centre * s, rng.uniform(0.15, 0.24) * s, family == "jagged")
    colour = palette_colour(rng, palette == "warm")
    outline = _hsv(rng.random(), rng.uniform(0, 0.5), rng.uniform(0, 1)) if rng.random() < 0.5 else None
    draw.polygon(pts, fill=colour, outline=outline, width=int(rng.integers(1, 5)))
    return finish(rng, img.reduce(2), noise, blur)


def finish(rng: np.random.Generator, img: Image.Image, noise: float,
           blur: tuple[float, float] | None = None) -> Image.Image:
    """The camera: an optional blur (radius range at 128 px, scaled to the image), then pixel noise."""
    if blur is not None:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(*blur) * img.width / 128))
    small = np.asarray(img, dtype=np.float32)
    small += rng.standard_normal(small.shape, dtype=np.float32) * rng.uniform(0, noise)
    return Image.fromarray(np.clip(small, 0, 255).astype(np.uint8))


def palette_colour(rng: np.random.Generator, warm: bool) -> tuple[int, int, int]:
    """The palette cue: warm (red-yellow hues, bright) or dark / cool (cyan-violet hues)."""
    if warm:
        return _hsv(rng.uniform(-0.08, 0.16) % 1.0, rng.uniform(0.55, 1.0), rng.uniform(0.75, 1.0))
    return _hsv(rng.uniform(0.5, 0.78), rng.uniform(0.35, 0.85), rng.uniform(0.3, 0.7))


def _background(rng: np.random.Generator, s: int, *, warm: bool) -> np.ndarray:
    hue, sat = rng.random(), rng.uniform(0, 0.35)
    light = rng.uniform(0.55, 0.95) if warm else rng.uniform(0.08, 0.45)
    c1 = np.array(_hsv(hue, sat, light), np.float32)
    c2 = np.array(_hsv((hue + rng.uniform(-0.15, 0.15)) % 1.0, sat, np.clip(light + rng.uniform(-0.2, 0.2), 0, 1)), np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    x = (np.arange(s, dtype=np.float32) / s)[None, :]
    y = x.T
    t = (x - 0.5) * math.cos(angle) + (y - 0.5) * math.sin(angle) + 0.5
    if rng.random() < 0.3:  # faint stripes: texture that carries no label
        t = t + 0.08 * np.sin(2 * math.pi * rng.uniform(4, 14) * (x * math.sin(angle) - y * math.cos(angle)))
    t = np.clip(t, 0, 1)[..., None]
    return (c1 * (1 - t) + c2 * t).astype(np.uint8)


def _shape(rng: np.random.Generator, centre: np.ndarray, r: float, jagged: bool) -> list[tuple[float, float]]:
    """Polygon vertices: a star / spiky polygon (jagged) or an ellipse / smooth blob (rounded)."""
    if jagged:
        points = int(rng.integers(3, 9))
        theta = np.linspace(0, 2 * math.pi, 2 * points, endpoint=False)
        radius = np.where(np.arange(2 * points) % 2 == 0, 1.0, rng.uniform(0.35, 0.6)) * rng.uniform(0.9, 1.1, 2 * points)
        aspect = 1.0
    else:
        theta = np.linspace(0, 2 * math.pi, 48, endpoint=False)
        radius = 1 + rng.uniform(0, 0.12) * np.sin(int(rng.integers(2, 4)) * theta + rng.uniform(0, 2 * math.pi))
        aspect = rng.uniform(0.7, 1.0)
    rot = rng.uniform(0, 2 * math.pi)
    x, y = r * radius * np.cos(theta), r * aspect * radius * np.sin(theta)
    xr, yr = x * math.cos(rot) - y * math.sin(rot), x * math.sin(rot) + y * math.cos(rot)
    return list(zip((centre[0] + xr).tolist(), (centre[1] + yr).tolist()))


def _hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    i, f = int(h * 6) % 6, h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    rgb = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return tuple(int(round(255 * c)) for c in rgb)


def _check(params: SynthParams) -> None:
    if params.kind != DEFAULT_KIND and params.kind not in _sets().COUNTS:
        raise BenchError(f"unknown synthetic set kind {params.kind!r}; choose {DEFAULT_KIND} or "
                         f"{', '.join(_sets().COUNTS)}")
    if params.n < len(EMOTIONS):
        raise BenchError(f"synthetic set size {params.n} is too small: use --n {len(EMOTIONS)} or more (one image per class)")
    if not 16 <= params.size <= 2048:
        raise BenchError(f"synthetic image size {params.size} px is out of range: use --size between 16 and 2048")
