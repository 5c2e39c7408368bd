"""EmoSet-118K (Yang et al. 2023): `image/<emotion>/...jpg`, `annotation/<emotion>/...json`, its own split files
`train.json` / `val.json` / `test.json`, and `info.json`.

A split file is a JSON list of entries `[emotion, image_path, annotation_path]` or
`[emotion, image_id, image_path, annotation_path]`: the image path is always the second-to-last field.
EmoSet's own label ids are NOT alphabetical (info.json: amusement, awe, contentment, excitement, anger, disgust,
fear, sadness = 0..7); entries carry names, which map to the harness's canonical order by name. An entry with a
numeric label is resolved through info.json's `idx2label` / `label2idx`, never by position.
"""

from __future__ import annotations

import json
from pathlib import Path

from mldrnet import EMOTIONS
from mldrnet.data.base import SPLITS, DatasetSpec, Listing
from mldrnet.data.decode import printable
from mldrnet.data.files import find_place, listed_file, places, require_dir
from mldrnet.data.labels import label_of
from mldrnet.errors import BenchError

LAYOUT = "ROOT/image/<emotion>/*.jpg, ROOT/annotation/<emotion>/*.json, ROOT/{train,val,test}.json and ROOT/info.json"


def _load_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise BenchError(f"emoset: cannot read {path} ({str(e).splitlines()[0]}); expected {LAYOUT}") from None


def _id_to_name(base: Path) -> dict[str, str]:
    info = base / "info.json"
    if not info.is_file():
        return {}
    data = _load_json(info)
    if "idx2label" in data:
        return {str(k): str(v) for k, v in data["idx2label"].items()}
    return {str(v): str(k) for k, v in data.get("label2idx", {}).items()}


def _lacks(folder: Path) -> str | None:
    missing = [f"{s}.json" for s in SPLITS if not (folder / f"{s}.json").is_file()]
    missing += ["image/"] if not (folder / "image").is_dir() else []
    return f"{' and '.join(missing)} not found" if missing else None


def scan(root: Path) -> Listing:
    root = require_dir(root, "emoset", LAYOUT)
    # the archive unpacks to EmoSet-118K/ (or EmoSet/): the data root may be that folder or the one holding it
    base = find_place(
        "emoset", LAYOUT, "its split files and image/ folder not found", places(root, "EmoSet-118K", "EmoSet"), _lacks
    )
    id_to_name = _id_to_name(base)
    rows: dict[str, tuple[int, str]] = {}
    dropped = []
    for split in SPLITS:
        entries = _load_json(base / f"{split}.json")
        if not isinstance(entries, list):
            raise BenchError(f"emoset: {base / split}.json is not a list of entries; expected {LAYOUT}")
        for entry in entries:
            if not isinstance(entry, list) or len(entry) not in (3, 4):
                dropped.append(f"{split}.json: entry {str(entry)[:60]} does not have 3 or 4 fields (ignored)")
                continue
            raw, rel = str(entry[0]), str(entry[-2]).replace("\\", "/")
            label = label_of(id_to_name.get(raw, raw), EMOTIONS)
            if label is None:
                dropped.append(f"{split}.json: {rel} has unknown emotion {raw!r} (ignored)")
            elif rel in rows:
                dropped.append(f"{rel}: listed in {rows[rel][1]}.json and {split}.json (first kept)")
            elif not listed_file(base / rel):
                dropped.append(f"{rel}: listed in {split}.json but not found under {printable(base)}")
            else:
                rows[rel] = (label, split)
    if not any(s == "test" for _, s in rows.values()) or not any(s == "train" for _, s in rows.values()):
        raise BenchError(f"emoset: the split files in {base} name no existing train or test image; expected {LAYOUT}")
    ordered = sorted(rows.items())
    return Listing(
        base,
        tuple((rel, lbl) for rel, (lbl, _) in ordered),
        given_split=tuple(s for _, (_, s) in ordered),
        dropped=tuple(dropped),
    )


SPEC = DatasetSpec(
    name="emoset",
    title="EmoSet-118K (8 emotions, its own train/val/test split)",
    classes=EMOTIONS,
    split="given",
    layout=LAYOUT,
    scan=scan,
)
