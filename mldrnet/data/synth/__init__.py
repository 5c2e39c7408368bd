"""The built-in synthetic datasets, generated on first use in FI's layout: the default 8-emotion set
(emotions.py), its cue-ablation variants (ablation.py) and the small sets standing in for ArtPhoto, Abstract,
IAPS-Subset and MART (sets.py), drawn with the primitives of draw.py, named by params.py and written by writer.py.
"""

from mldrnet.data.synth.emotions import CUES
from mldrnet.data.synth.params import ABLATIONS, COUNTS, DEFAULT_KIND, KINDS, MARKER, SynthParams, read_params
from mldrnet.data.synth.writer import SUMMARY, cues_of, describe, ensure_synth, generate, render

__all__ = [
    "ABLATIONS",
    "COUNTS",
    "CUES",
    "DEFAULT_KIND",
    "KINDS",
    "MARKER",
    "SUMMARY",
    "SynthParams",
    "cues_of",
    "describe",
    "ensure_synth",
    "generate",
    "read_params",
    "render",
]
