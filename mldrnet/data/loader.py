"""`make_loader`: (path, label) samples -> batches of (images, labels, n_unreadable).

Unreadable files never stop an epoch: the dataset hands back a marker instead of an image, the collate
function drops it from the batch and counts it, and the loader (in the main process, so once per path even
with worker processes) prints one warning per bad file. A batch whose files are all bad is empty (B = 0).
"""

from __future__ import annotations

import logging

import torch
from torch.utils.data import DataLoader, Dataset, default_collate

from mldrnet.data.decode import UnreadableImage, decode_image, printable
from mldrnet.data.transforms import Preprocessing, eval_transform, train_transform

log = logging.getLogger(__name__)


class ImageSamples(Dataset):
    def __init__(self, samples, transform, min_size: int):
        self.samples = list(samples)
        self.transform = transform
        self.min_size = min_size

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        path, label = self.samples[i]
        try:
            image = decode_image(path, min_size=self.min_size)
        except UnreadableImage as e:
            return None, int(label), (e.path, e.reason)
        return self.transform(image), int(label), None


class SkipUnreadable:
    """Collate: stack the good samples, report the bad ones (a class, so worker processes can pickle it)."""

    def __init__(self, shape: tuple[int, ...]):
        self.shape = shape  # of one image, for the empty batch

    def __call__(self, items):
        good = [(x, y) for x, y, bad in items if bad is None]
        bad = [bad for _, _, bad in items if bad is not None]
        # default_collate stacks straight into shared memory inside a worker: no extra copy to the main process
        images = default_collate([x for x, _ in good]) if good else torch.empty((0, *self.shape))
        labels = torch.tensor([y for _, y in good], dtype=torch.int64)
        return images, labels, bad


class SkippingLoader(DataLoader):
    """A DataLoader that yields (images, labels, n_unreadable) and warns once per unreadable path.

    `unreadable` maps every bad path seen so far to its reason, for end-of-run summaries."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.unreadable: dict[str, str] = {}

    def __iter__(self):
        for images, labels, bad in super().__iter__():
            for path, reason in bad:
                if path not in self.unreadable:
                    self.unreadable[path] = reason
                    log.warning(f"skipping unreadable image {printable(path)}: {reason}")
            yield images, labels, len(bad)


def make_loader(
    samples,
    preprocessing: Preprocessing,
    *,
    train: bool,
    tta: str = "center",
    batch_size: int = 64,
    shuffle: bool = False,
    seed: int = 0,
    workers: int = 0,
    sampler=None,
    drop_last: bool = False,
    pin_memory: bool = False,
) -> SkippingLoader:
    """Batches of (images, labels, n_unreadable): images (B, 3, crop, crop), or (B, 5, 3, crop, crop) for
    evaluation with tta="five"; labels int64 (B,). train=True applies the random five-crop + flip.

    Shuffling and the workers' random crops are driven by a torch.Generator seeded with `seed`, so a given seed
    gives the same order and crops on every run (with workers=0 the crops use torch's global RNG: seed it).
    A `sampler` (e.g. DistributedSampler) replaces shuffling."""
    transform = train_transform(preprocessing) if train else eval_transform(preprocessing, tta)
    crop = preprocessing.crop
    shape = (5, 3, crop, crop) if (not train and tta == "five") else (3, crop, crop)
    return SkippingLoader(
        ImageSamples(samples, transform, preprocessing.resize_to),
        batch_size=batch_size,
        shuffle=shuffle and sampler is None,
        sampler=sampler,
        num_workers=workers,
        collate_fn=SkipUnreadable(shape),
        generator=torch.Generator().manual_seed(seed),
        drop_last=drop_last,
        pin_memory=pin_memory,
        # keep workers between passes only for evaluation loaders, which training reuses every epoch (val); the
        # train loader is rebuilt each epoch (its seed is a function of the epoch, for deterministic resume), so
        # persistent workers there would only outlive their loader
        persistent_workers=workers > 0 and not train,
    )
