"""Writing a synthetic set: into a temporary folder, renamed into place when complete, so an interrupted run never
leaves half a dataset; a folder that already holds the same parameters is reused."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from PIL import Image

from mldrnet.data.synth import emotions, sets
from mldrnet.data.synth.params import DEFAULT_KIND, FORMAT, MARKER, SynthParams, check_params, read_params
from mldrnet.errors import BenchError


def render(params: SynthParams, label: int, k: int) -> Image.Image:
    """Image k of class `label` (an index into `params.classes`) of the set `params.kind`."""
    if params.kind == DEFAULT_KIND:
        return emotions.render(params, label, k)
    return sets.render(params, label, k)


def ensure_synth(params: SynthParams, out: Path) -> Path:
    """The dataset folder `out` (holding emotion_dataset/), generated unless it already holds these parameters."""
    check_params(params)
    out = Path(out)
    found = read_params(out)
    if found is not None:
        if found != params:
            raise BenchError(
                f"{out} holds a synthetic set with {found.to_json()}, not {params.to_json()}; "
                f"choose another folder or delete it"
            )
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
        cues = emotions.CUES if params.kind == DEFAULT_KIND else sets.cues(params.kind)
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
