"""Class names of every dataset and the aliases real files use for them.

Labels are always resolved by name (folder name, file-name prefix, CSV header or column value), never by a
listing order, so a dataset's label ids are its `classes` tuple's indices:

- the 8-class sets (FI, ArtPhoto, Abstract, IAPS-Subset, EmoSet, synthetic) use `mldrnet.EMOTIONS`;
- Emotion6 keeps its own 6 categories (`EMOTION6`); four are Mikels emotions (`EMOTION6_TO_MIKELS`),
  joy and surprise have no single Mikels counterpart;
- MART is positive / negative (`POLARITY`); `POLARITY_OF` is Mikels' valence grouping of the 8 emotions,
  which the paper uses too (positive: amusement, awe, contentment, excitement).
"""

from __future__ import annotations

from mldrnet import EMOTIONS

EMOTION6 = ("anger", "disgust", "fear", "joy", "sadness", "surprise")
POLARITY = ("positive", "negative")

EMOTION6_TO_MIKELS = {"anger": "anger", "disgust": "disgust", "fear": "fear", "sadness": "sadness"}
POLARITY_OF = {e: ("negative" if e in ("anger", "disgust", "fear", "sadness") else "positive") for e in EMOTIONS}

# Spellings seen in the real files: ArtPhoto's `sad_12.jpg`, Abstract's 'Content' / 'Sad' columns,
# Mikels' IAPS table, MART's pos/neg and 1/0 (or 1/-1) labels.
ALIASES = {
    "sad": "sadness",
    "content": "contentment",
    "amused": "amusement",
    "angry": "anger",
    "disgusted": "disgust",
    "excited": "excitement",
    "afraid": "fear",
    "fearful": "fear",
    "happy": "joy",
    "happiness": "joy",
    "surprised": "surprise",
    "pos": "positive",
    "neg": "negative",
    "1": "positive",
    "+1": "positive",
    "0": "negative",
    "-1": "negative",
}


def canonical(name: str) -> str:
    """A label as written in a file -> its canonical lower-case class name (may still be unknown)."""
    key = name.strip().strip("'\"").strip().lower()
    return ALIASES.get(key, key)


def label_of(name: str, classes: tuple[str, ...]) -> int | None:
    """Index of `name` in `classes` after alias resolution, or None when it names no class of this set."""
    key = canonical(name)
    return classes.index(key) if key in classes else None
