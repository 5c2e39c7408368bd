"""What names a synthetic set: its parameters (`SynthParams`), the kinds there are and their class counts, and
the marker file (`synth.json`) that says which set a folder holds. No drawing here: mldrnet.data.synth.emotions
and .sets draw the images, mldrnet.data.synth.writer writes them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from mldrnet import EMOTIONS
from mldrnet.data.labels import POLARITY
from mldrnet.errors import BenchError

# /2: the composition cue on a band around the centre, no longer on the rule-of-thirds points (draw.place); a set
# of an older format holds other images under the same names and is drawn again (writer.ensure_synth)
FORMAT = "bench-synth/2"
DEFAULT_KIND = "emotions"
MARKER = "synth.json"
# Images per class, in the class order of `classes(kind)`.
COUNTS: dict[str, tuple[int, ...]] = {
    # ArtPhoto: the paper says 806 images, but its per-class table sums to 807; these are the table's counts.
    "artphoto": (101, 77, 103, 70, 70, 105, 115, 166),
    "abstract": (25, 3, 15, 63, 18, 36, 36, 32),  # 228
    "iaps": (37, 8, 54, 63, 74, 55, 42, 62),  # 395 (IAPS-Subset)
    "mart": (250, 250),  # 500, balanced
}
# The cue-ablation variants of the default set (mldrnet.data.synth.ablation): the label is one level's cue, the
# other two levels' cues are drawn at random; two classes, the cue's two values, and n images like the default.
ABLATIONS: dict[str, tuple[str, str]] = {
    "low": ("warm", "dark"),  # palette: colour
    "mid": ("centred", "off-centre"),  # composition: where the main shape sits
    "high": ("rounded", "jagged"),  # shape: what the main shape is
}
KINDS = (*COUNTS, *ABLATIONS)
# each set's RNG stream tag (mldrnet.data.synth.sets, .ablation): fixed numbers, so adding a set never changes
# the images of another
STREAM_ID = {"artphoto": 0, "abstract": 1, "iaps": 2, "mart": 3, "low": 4, "mid": 5, "high": 6}


def classes(kind: str) -> tuple[str, ...]:
    if kind in ABLATIONS:
        return ABLATIONS[kind]
    return POLARITY if kind == "mart" else EMOTIONS


@dataclass(frozen=True)
class SynthParams:
    n: int = 2400  # ignored (replaced by the fixed total) for the fixed-count kinds of COUNTS
    size: int = 128
    seed: int = 0
    kind: str = DEFAULT_KIND  # "emotions" or one of KINDS (mldrnet.data.synth.sets)

    def __post_init__(self):
        counts = COUNTS.get(self.kind)
        if counts is not None:  # a fixed-count kind: its size is its class counts' total, whatever n was given
            object.__setattr__(self, "n", sum(counts))

    @property
    def key(self) -> str:
        """Folder name and split-file key: different parameters never share files. The default kind's key
        stays what it always was (split files and baselines name it)."""
        if self.kind == DEFAULT_KIND:
            return f"synth-n{self.n}-px{self.size}-seed{self.seed}"
        if self.kind in ABLATIONS:
            return f"synth-{self.kind}-n{self.n}-px{self.size}-seed{self.seed}"
        return f"synth-{self.kind}-px{self.size}-seed{self.seed}"

    @property
    def classes(self) -> tuple[str, ...]:
        return EMOTIONS if self.kind == DEFAULT_KIND else classes(self.kind)

    def per_class(self) -> list[int]:
        """Images per class: the fixed counts of the kind, or balanced with the first n % 8 classes one more."""
        if self.kind in COUNTS:
            return list(COUNTS[self.kind])
        base, extra = divmod(self.n, len(self.classes))
        return [base + (c < extra) for c in range(len(self.classes))]

    def to_json(self) -> dict:
        """The marker's "params": without "kind" for the default kind, as markers always were."""
        d = asdict(self)
        if self.kind == DEFAULT_KIND:
            del d["kind"]
        return d


def read_params(out: Path) -> SynthParams | None:
    """The parameters of the synthetic set in `out`, or None when `out` holds none."""
    marker = Path(out) / MARKER
    if not marker.is_file():
        return None
    try:
        return SynthParams(**json.loads(marker.read_text())["params"])  # markers without "kind": the default kind
    except (OSError, ValueError, KeyError, TypeError):
        raise BenchError(f"{marker} is damaged; delete {out} to generate the synthetic set again") from None


def read_format(out: Path) -> str | None:
    """The format its marker names (None: no marker, or one without a format)."""
    try:
        return json.loads((Path(out) / MARKER).read_text()).get("format")
    except (OSError, ValueError, AttributeError):
        return None


def check_params(params: SynthParams) -> None:
    if params.kind != DEFAULT_KIND and params.kind not in KINDS:
        raise BenchError(f"unknown synthetic set kind {params.kind!r}; choose {DEFAULT_KIND} or {', '.join(KINDS)}")
    if params.n < len(EMOTIONS):
        raise BenchError(
            f"synthetic set size {params.n} is too small: use --n {len(EMOTIONS)} or more (one image per class)"
        )
    if not 16 <= params.size <= 2048:
        raise BenchError(f"synthetic image size {params.size} px is out of range: use --size between 16 and 2048")
