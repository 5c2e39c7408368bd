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
background's lightness; composition places the main shape at the centre or anywhere on a band 14-30 % of the
side away from it, at any angle (draw.place: not on MldrNet's 3x3 pooling grid; still visible in the corner
crops); shapes are ellipses and smooth blobs, or stars and spiky polygons. Nuisances,
independent of the label: background hue and gradient, shape size, rotation, aspect and outline, jitter of the
position, small low-saturation distractor shapes, faint stripes, pixel noise and JPEG compression. So no single
pixel statistic gives the label away: the palette is easy, composition and shape need spatial features.

Image k of class c is drawn from its own RNG stream (seed, c, k), so a larger set extends a smaller one. The
set is written to a temporary folder and renamed into place, so an interrupted run never leaves half a dataset.

`SynthParams.kind` picks the set: "emotions" (the default, described above) or one of the small fixed-size sets
of mldrnet.data.synth.sets (artphoto, abstract, iaps: the same cues with other nuisances and the real sets' class
counts; mart: positive / negative abstract compositions). Those are registered as datasets `synth-<kind>`.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from mldrnet import EMOTIONS
from mldrnet.data.synth.draw import draw_emotion
from mldrnet.data.synth.params import SynthParams

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


def render(params: SynthParams, label: int, k: int) -> Image.Image:
    """Image k of class `label` (an index into EMOTIONS) of the default set."""
    rng = np.random.default_rng([params.seed, label, k])
    return draw_emotion(rng, params.size, CUES[EMOTIONS[label]])
