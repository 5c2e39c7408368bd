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
from mldrnet.data.synth import emotions, sets
from mldrnet.data.synth.params import DEFAULT_KIND, FORMAT, MARKER, SynthParams, check_params, read_params
from mldrnet.errors import BenchError
from mldrnet.io.atomic import os_error


def render(params: SynthParams, label: int, k: int) -> Image.Image:
    """Image k of class `label` (an index into `params.classes`) of the set `params.kind`."""
    if params.kind == DEFAULT_KIND:
        return emotions.render(params, label, k)
    return sets.render(params, label, k)


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
            return out
        if out.exists() and any(out.iterdir()):
            raise BenchError(f"{printable(out)} exists and is not a synthetic dataset; choose an empty or new folder")
        return generate(params, out)
    except OSError as e:
        raise os_error(e, printable(out), "write the synthetic set to") from None


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
