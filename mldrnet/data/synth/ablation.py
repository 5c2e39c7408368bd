"""The cue-ablation variants of the default synthetic set: `synth-low`, `synth-mid`, `synth-high`.

The default set's label is a combination of one cue at each of the paper's three levels (emotions.CUES): the
palette (low: colour), the composition (mid: where the main shape sits) and the shape (high: what it is). Each
variant keeps the same drawing, nuisances and size (n images, balanced) but lets ONE level carry the label: two
classes, that cue's two values; the other two cues are drawn at random for every image, so they carry nothing.
A model that reads the level gets near 100 %; one that cannot see it stays at chance (50 %). So Table I's claims
about levels can be tested against what each level of MldrNet actually sees (`bench reproduce table1 --dataset
synth-mid`), and a verdict on the default set can be read next to the level that carries each part of it.

    set          label (2 classes)         random in every image
    synth-low    warm / dark palette       composition, shape
    synth-mid    centred / off-centre      palette, shape
    synth-high   rounded / jagged shape    palette, composition
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from mldrnet.data.synth.draw import draw_emotion
from mldrnet.data.synth.params import ABLATIONS, STREAM_ID, SynthParams

LEVELS = ("low", "mid", "high")  # the order of draw_emotion's cue triple: palette, composition, shape
CUE_NAMES = {"low": "palette", "mid": "composition", "high": "shape"}
_STREAM = 104729  # tags these sets' RNG streams apart from the default set's and the small sets'


def cues(kind: str) -> dict:
    """What carries the label, for the set's synth.json marker."""
    level = CUE_NAMES[kind]
    return {
        "label": f"{level} ({kind} level): {' / '.join(ABLATIONS[kind])}",
        "random": [CUE_NAMES[k] for k in LEVELS if k != kind],
    }


def render(params: SynthParams, label: int, k: int) -> Image.Image:
    """Image k of class `label` (an index into ABLATIONS[kind]) of the variant `params.kind`."""
    rng = np.random.default_rng([params.seed, label, k, _STREAM, STREAM_ID[params.kind]])
    triple = [ABLATIONS[level][int(rng.integers(2))] for level in LEVELS]  # every cue at random...
    triple[LEVELS.index(params.kind)] = ABLATIONS[params.kind][label]  # ...but the one that carries the label
    palette, composition, shape = triple
    return draw_emotion(rng, params.size, (palette, composition, shape))
