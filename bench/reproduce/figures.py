"""The paper's Figures 5, 6 and 7: the data each needs, gathered from models and predictions, and the drawing.

- Fig. 5 "weights of the filter which produces the activation map with the highest activation, in each
  convolutional layer": `strongest_filters` runs one image through an MldrNet's levels and keeps, per level,
  the filter whose map (after the level's ReLU, before its pooling) has the highest *maximum*: the paper
  says "highest activation", a peak, not an average response. `draw_fig5` shows those maps beside the
  image, and the first level's 96 filters as colour tiles (the only level whose weights are RGB).
- Fig. 6 confusion matrices of AlexNet and MldrNet trained on the well and noisy sets: `draw_confusions`
  draws any number of them row-normalised; `confused_pairs` and `off_diagonal_mass` are the numbers a
  report quotes and a claim checker compares ("AlexNet tends to confuse some emotions, such as fear and sad").
- Fig. 7 images MldrNet gets right and AlexNet wrong, with both predicted distributions: `pick_examples`
  chooses them, `draw_fig7` draws them.

Figures use matplotlib's object API (`Figure` on an Agg canvas, no pyplot figures), as `bench.plots` does:
nothing enters pyplot's figure registry, so a figure is released as soon as the function returns. The
confusion panels are `bench.plots.confusion_panel` (scikit-learn's ConfusionMatrixDisplay).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from torch import nn

from bench.plots import confusion_panel, row_rates

DPI = 110
TRUE_COLOUR, WRONG_COLOUR, OTHER_COLOUR = "tab:red", "tab:blue", "0.75"


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)  # Agg explicitly, whatever the session's default backend
    fig.savefig(path, dpi=DPI)
    fig.clear()
    return path


# --- Fig. 5: the strongest filter per level --------------------------------------------------------------


@dataclass(frozen=True)
class LevelActivation:
    level: int  # 1-based, as the paper numbers its layers
    filter: int  # index of the output channel in that level's convolution
    peak: float  # the map's maximum: what "highest activation" ranks by
    activation: np.ndarray  # (H, W) map after the level's ReLU, before its pooling
    weights: np.ndarray  # (C_in, k, k) that filter's convolution weights (before any batch-norm folding)


def _run_level(level: nn.Sequential, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The level's output (after pooling) and its post-ReLU activations (what the pooling reads)."""
    act = None
    for layer in level:
        x = layer(x)
        if isinstance(layer, nn.ReLU):
            act = x.clone()  # the ReLU is in-place: keep a copy of exactly what it produced
    if act is None:
        raise ValueError("a level without a ReLU: is this an MldrNet?")
    return x, act


@torch.no_grad()
def strongest_filters(model: nn.Module, image: torch.Tensor) -> list[LevelActivation]:
    """Per conv level of an MldrNet (`model.levels`), the filter whose post-ReLU map has the highest maximum
    for `image` (1, 3, H, W), already normalised as the model expects. Ties go to the lower filter index.
    The model runs in eval mode (batch norm on its running statistics) and is put back as it was."""
    if not isinstance(getattr(model, "levels", None), nn.ModuleList):
        raise TypeError(f"{type(model).__name__} has no `levels`: Fig. 5 needs an MldrNet")
    if image.dim() != 4 or image.shape[0] != 1:
        raise ValueError(f"expected one image (1, C, H, W), got shape {tuple(image.shape)}")
    param = next(model.parameters())
    x = image.to(device=param.device, dtype=param.dtype)
    was_training = model.training
    model.eval()
    try:
        found = []
        for k, level in enumerate(model.levels, start=1):
            conv = next(m for m in level if isinstance(m, nn.Conv2d))
            x, act = _run_level(level, x)  # act: (1, C_k, H_k, W_k)
            peaks = act[0].amax(dim=(1, 2))  # (C_k,)
            i = int(peaks.argmax())
            found.append(
                LevelActivation(k, i, float(peaks[i]), act[0, i].cpu().numpy(), conv.weight[i].detach().cpu().numpy())
            )
    finally:
        model.train(was_training)
    return found


def first_level_weights(model: nn.Module) -> np.ndarray:
    """The first level's convolution weights, (96, 3, 11, 11) for MldrNet: the tiles of Fig. 5's second panel."""
    conv = next(m for m in model.levels[0] if isinstance(m, nn.Conv2d))
    return conv.weight.detach().cpu().numpy()


def _unit(w: np.ndarray) -> np.ndarray:
    lo, hi = float(w.min()), float(w.max())
    return (w - lo) / (hi - lo) if hi > lo else np.full_like(w, 0.5)


def filter_mosaic(weights: np.ndarray, cols: int = 16, gap: int = 2) -> tuple[np.ndarray, int]:
    """(N, C, k, k) filters as one RGB image of k x k tiles, each scaled to 0..1 on its own (the filters differ
    in scale, and a shared scale would leave most of them grey); white gaps. Returns (image, tile step)."""
    w = np.asarray(weights, dtype=np.float64)
    n, c, kh, kw = w.shape
    cols = min(cols, n)
    rows = math.ceil(n / cols)
    step = max(kh, kw) + gap
    mosaic = np.ones((rows * step - gap, cols * step - gap, 3))
    for i in range(n):
        tile = w[i].transpose(1, 2, 0) if c == 3 else np.repeat(w[i].mean(0)[..., None], 3, axis=2)
        r, col = divmod(i, cols)
        mosaic[r * step : r * step + kh, col * step : col * step + kw] = _unit(tile)
    return mosaic, step


def draw_fig5(
    image_rgb: np.ndarray, levels: list[LevelActivation], first_level_weights: np.ndarray, path: str | Path
) -> Path:
    """Top: the input image, then per level the strongest filter's activation map. Bottom: the first level's
    filters as colour tiles, the strongest one outlined in red."""
    weights = np.asarray(first_level_weights)
    fig = Figure(figsize=(max(10.0, 2.7 * (1 + len(levels))), 7.5), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1, 1.25])
    axes = np.atleast_1d(top.subplots(1, 1 + len(levels)))
    axes[0].imshow(image_rgb)
    axes[0].set_title("input image")
    axes[0].set_xlabel(f"{image_rgb.shape[1]}x{image_rgb.shape[0]} px")
    for ax, lv in zip(axes[1:], levels):
        ax.imshow(lv.activation, cmap="inferno")
        ax.set_title(f"level {lv.level}, filter {lv.filter}")
        h, w = lv.activation.shape
        ax.set_xlabel(f"{w}x{h} map, max {lv.peak:.3g}")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    top.suptitle("Activation map of the filter with the highest activation (max after ReLU), per level")
    ax = bottom.subplots()
    mosaic, step = filter_mosaic(weights)
    ax.imshow(mosaic, interpolation="nearest")
    strongest = levels[0].filter if levels else None
    if strongest is not None:
        r, c = divmod(strongest, min(16, len(weights)))
        kh, kw = weights.shape[2:]
        ax.add_patch(Rectangle((c * step - 0.5, r * step - 0.5), kw, kh, fill=False, edgecolor="red", lw=2))
    ax.set_axis_off()
    n, ch, kh, kw = weights.shape
    note = f"; filter {strongest} (outlined) is the strongest" if strongest is not None else ""
    ax.set_title(f"level 1: all {n} filters ({ch}x{kh}x{kw}, each scaled to 0..1 on its own){note}")
    return _save(fig, path)


# --- Fig. 6: confusion matrices ------------------------------------------------------------------------


class ConfusedPair(NamedTuple):
    true: str
    predicted: str
    rate: float  # share of the true class's test images predicted as `predicted`


def off_diagonal_mass(cm: np.ndarray) -> float:
    """Mean per-class error: 1 - the mean of the row-normalised diagonal, over the classes that have test
    images (so it does not depend on class sizes). NaN when no class has any."""
    cm = np.asarray(cm, dtype=np.float64)
    present = cm.sum(axis=1) > 0
    if not present.any():
        return float("nan")
    return float(1.0 - np.diag(row_rates(cm))[present].mean())


def confused_pairs(cm: np.ndarray, classes: list[str], top: int = 3) -> list[ConfusedPair]:
    """The `top` off-diagonal (true, predicted) pairs with the highest row-normalised rate, highest first
    (ties in class order); pairs that never happen are left out."""
    rates = row_rates(cm)
    pairs = [(-rates[i, j], i, j) for i in range(len(rates)) for j in range(len(rates)) if i != j and rates[i, j] > 0]
    return [ConfusedPair(classes[i], classes[j], float(-neg)) for neg, i, j in sorted(pairs)[:top]]


def draw_confusions(
    matrices: dict[str, np.ndarray], classes: list[str], path: str | Path, subtitles: dict[str, str] | None = None
) -> Path:
    """A grid of row-normalised confusion matrices (name -> counts, true classes as rows), each titled with its
    name, its mean per-class accuracy and, when given, a line on how the model was trained."""
    if not matrices:
        raise ValueError("no confusion matrices to draw")
    subtitles = subtitles or {}
    n = len(matrices)
    cols = 2 if n in (2, 4) else min(n, 3)
    rows = math.ceil(n / cols)
    side = 1.6 + 0.6 * len(classes)
    fig = Figure(figsize=(cols * side + 1.0, rows * (side + 0.4)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    im = None
    for ax, (name, cm) in zip(axes, matrices.items()):
        title = f"{name}: mean per-class accuracy {100 * (1 - off_diagonal_mass(cm)):.1f}%"
        if subtitles.get(name):
            title += f"\n{subtitles[name]}"
        im = confusion_panel(ax, cm, classes, title, fontsize=7 if len(classes) > 6 else 8, title_size=10)
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.colorbar(im, ax=list(axes[:n]), fraction=0.03, label="share of the true class")
    fig.suptitle("Confusion matrices on the test split (rows: true emotion, normalised per row)")
    return _save(fig, path)


# --- Fig. 7: images model A gets right and model B wrong -------------------------------------------------


def pick_examples(labels: np.ndarray, probs_a: np.ndarray, probs_b: np.ndarray, n: int = 6, seed: int = 0) -> list[int]:
    """Up to `n` indices where model A (MldrNet) predicts the true label and model B (AlexNet) does not,
    spread over the true classes: round-robin over the classes in label order, within a class most confident
    A first (its probability of the true label). `seed` only orders exact ties, so the pick is reproducible.
    [] when there is no such image."""
    labels = np.asarray(labels).astype(int)
    pa, pb = np.asarray(probs_a), np.asarray(probs_b)
    if pa.ndim != 2 or pa.shape != pb.shape or len(labels) != len(pa):
        raise ValueError(f"labels {labels.shape}, probs {pa.shape} and {pb.shape} do not match")
    hits = np.flatnonzero((pa.argmax(axis=1) == labels) & (pb.argmax(axis=1) != labels))
    if n <= 0 or hits.size == 0:
        return []
    tie = np.random.default_rng(seed).permutation(len(labels))
    confidence = pa[np.arange(len(labels)), labels]
    queues = [sorted(hits[labels[hits] == c], key=lambda i: (-confidence[i], tie[i])) for c in np.unique(labels[hits])]
    picked: list[int] = []
    for rank in range(max(len(q) for q in queues)):
        picked += [int(q[rank]) for q in queues if rank < len(q)]
    return picked[:n]


def _distribution(ax, probs: np.ndarray, true: int, classes: list[str], name: str) -> None:
    pred = int(np.argmax(probs))
    colours = [TRUE_COLOUR if c == true else WRONG_COLOUR if c == pred else OTHER_COLOUR for c in range(len(classes))]
    ax.barh(range(len(classes)), probs, color=colours)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    label = ax.get_yticklabels()[true]  # marked even when its bar has (almost) no length
    label.set_color(TRUE_COLOUR)
    label.set_fontweight("bold")
    ax.invert_yaxis()  # first class on top, as in a list
    ax.set_xlim(0, 1)
    ax.tick_params(axis="x", labelsize=7)
    verdict = "right" if pred == true else "wrong"
    ax.set_title(f"{name}: {classes[pred]} ({probs[pred]:.0%}, {verdict})", fontsize=9)


def draw_fig7(
    images: list[np.ndarray],
    labels,
    probs_a: np.ndarray,
    probs_b: np.ndarray,
    classes: list[str],
    path: str | Path,
    names: tuple[str, str] = ("MldrNet", "AlexNet"),
) -> Path:
    """One column per example (images[i] with labels[i], probs_a[i], probs_b[i]: softmax outputs): the image
    titled with its true emotion, then model A's and model B's predicted distributions, the true emotion's
    bar and name in red and a wrong prediction's bar in blue."""
    if not images:
        raise ValueError("no examples to draw")
    n = len(images)
    fig = Figure(figsize=(max(6.0, 2.9 * n), 8.5), layout="constrained")
    axes = fig.subplots(3, n, squeeze=False, gridspec_kw={"height_ratios": [1.3, 1, 1]})
    for j, image in enumerate(images):
        true = int(labels[j])
        axes[0, j].imshow(image)
        axes[0, j].set_axis_off()
        axes[0, j].set_title(f"true: {classes[true]}", color=TRUE_COLOUR)
        _distribution(axes[1, j], np.asarray(probs_a[j]), true, classes, names[0])
        _distribution(axes[2, j], np.asarray(probs_b[j]), true, classes, names[1])
    fig.legend(
        handles=[
            Patch(color=TRUE_COLOUR, label="true emotion (bar and name)"),
            Patch(color=WRONG_COLOUR, label="wrong prediction"),
            Patch(color=OTHER_COLOUR, label="other emotions"),
        ],
        loc="outside lower center",
        ncols=3,
        fontsize=8,
    )
    fig.suptitle(f"Images {names[0]} classifies correctly and {names[1]} does not: predicted distributions")
    return _save(fig, path)
