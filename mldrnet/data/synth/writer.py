"""Writing a synthetic set: into a temporary folder, renamed into place when complete, so an interrupted run never
leaves half a dataset; a folder that already holds the same parameters is reused."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from PIL import Image

from mldrnet.data.decode import printable
from mldrnet.data.synth import ablation, emotions, sets
from mldrnet.data.synth.params import (
    ABLATIONS,
    DEFAULT_KIND,
    FORMAT,
    MARKER,
    SynthParams,
    check_params,
    read_format,
    read_params,
)
from mldrnet.errors import BenchError
from mldrnet.io.atomic import os_error


def render(params: SynthParams, label: int, k: int) -> Image.Image:
    """Image k of class `label` (an index into `params.classes`) of the set `params.kind`."""
    if params.kind == DEFAULT_KIND:
        return emotions.render(params, label, k)
    if params.kind in ABLATIONS:
        return ablation.render(params, label, k)
    return sets.render(params, label, k)


def cues_of(kind: str) -> dict:
    """What carries the labels of the set `kind` (its synth.json marker's "cues")."""
    if kind == DEFAULT_KIND:
        return {e: list(c) for e, c in emotions.CUES.items()}
    return ablation.cues(kind) if kind in ABLATIONS else sets.cues(kind)


# What each set's labels rest on, and so what a verdict reached on it can and cannot say about the paper: one line
# each, for reports (bench reproduce's report.md opens with them) and for the data line of every verdict.
SUMMARY = {
    DEFAULT_KIND: "palette, composition and shape together carry 8 emotions",
    "artphoto": "synth's cue table, with blur and more pixel noise",
    "abstract": "synth's cue table, drawn as abstract compositions",
    "iaps": "synth's cue table, with much more clutter",
    "mart": "hue harmony, lightness and shape, each agreeing with positive / negative on 80 % of images",
    "low": "only the palette (low level) carries the label: warm / dark",
    "mid": "only the composition (mid level) carries the label: centred / off-centre",
    "high": "only the shape (high level) carries the label: rounded / jagged",
}
CAVEAT = {
    DEFAULT_KIND: "a verdict says which model learned these three cues inside its budget; the composition cue lies "
    "on a band around the centre, off MldrNet's 3x3 pooling grid",
    "artphoto": "the cues are synth's, so a model trained on synth transfers by retraining its last layer by "
    "construction: Figs. 8-10 here measure robustness to the nuisances, not transfer to new content",
    "mart": "colour alone caps at 80 % and all three cues give 89.6 %; the MART baselines see colour and "
    "composition features only",
    "low": "a model that cannot see the cue stays at chance (50 %): Table I here says what each level sees",
}
CAVEAT["abstract"] = CAVEAT["iaps"] = CAVEAT["artphoto"]
CAVEAT["mid"] = CAVEAT["high"] = CAVEAT["low"]


def describe(kind: str) -> str:
    """What carries the labels of the set `kind`, and what a verdict on it can say: one sentence."""
    return f"{SUMMARY[kind]}; {CAVEAT[kind]}. Nothing here is about photographs or about emotions themselves."


def ensure_synth(params: SynthParams, out: Path) -> Path:
    """The dataset folder `out` (holding emotion_dataset/), generated unless it already holds these parameters.
    The environment's failures (a file where the folder should be, read-only or full disk, no permission, a
    symlink loop, a name or path too long) are one BenchError line naming the folder and what to do."""
    check_params(params)
    out = Path(out)
    try:
        os.stat(out.parent) if out.parent.exists() else None  # a name too long raises here, as one line below
        blocker = next((p for p in (out, *out.parents) if p.exists() or p.is_symlink()), None)
        if blocker is not None and blocker.is_symlink() and not blocker.exists():
            raise BenchError(
                f"cannot write the synthetic set to {printable(out)}: {printable(blocker)} is a symlink that leads "
                "nowhere (a loop or a missing target): fix or remove it, or choose another folder"
            )
        if blocker is not None and not blocker.is_dir():
            raise BenchError(
                f"cannot write the synthetic set to {printable(out)}: {printable(blocker)} is a file, not a folder: "
                "move it away or choose another folder (--out, --results-dir or BENCH_RESULTS_DIR)"
            )
        found = read_params(out)
        if found is not None:
            if found != params:
                raise BenchError(
                    f"{printable(out)} holds a synthetic set with {found.to_json()}, not {params.to_json()}; "
                    f"choose another folder or delete it"
                )
            if read_format(out) != FORMAT:  # drawn by an older version: the same names, other images
                return generate(params, out, replace_stale=True)
            return out
        if out.exists() and any(out.iterdir()):
            raise BenchError(f"{printable(out)} exists and is not a synthetic dataset; choose an empty or new folder")
        return generate(params, out)
    except OSError as e:
        raise os_error(e, printable(out), "write the synthetic set to") from None


def generate(params: SynthParams, out: Path, replace_stale: bool = False) -> Path:
    """Draw the set into a temporary folder, then rename it into place; `replace_stale`: `out` holds a set of an
    older format, moved aside (not deleted) until the new one is in place, then removed."""
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
        meta = {"format": FORMAT, "params": params.to_json(), "cues": cues_of(params.kind)}
        (tmp / MARKER).write_text(json.dumps(meta, indent=2))
        if out.exists() and not any(out.iterdir()):
            out.rmdir()
        stale = out.with_name(f".{out.name}.stale-{os.getpid()}") if replace_stale else None
        if stale is not None:
            out.rename(stale)
        try:
            tmp.rename(out)
        except OSError:
            if not (out / MARKER).is_file():  # not another process that finished the same set first
                raise
            shutil.rmtree(tmp, ignore_errors=True)
        if stale is not None:
            shutil.rmtree(stale, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
