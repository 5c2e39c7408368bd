"""Figures 5-7 of the paper: what MldrNet's levels respond to, which emotions it confuses against AlexNet, and
test images it gets right where AlexNet does not. The models are the large set's runs of Tables II and III
(reused when trained, trained here otherwise); the drawing is bench.reproduce.figures."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.reproduce import claims, figures
from bench.reproduce.context import ReproduceConfig, checkpoint_of, train_cell
from bench.reproduce.results import Cell, ExperimentResult, Row, Run
from bench.reproduce.tables import _noisy_variant
from mldrnet.errors import BenchError


@dataclass
class TestPredictions:
    probs: np.ndarray  # (N, classes) softmax
    labels: np.ndarray  # (N,)
    images: np.ndarray  # (N, H, W, 3) uint8: the evaluation crops
    classes: tuple[str, ...]
    how_trained: str
    near_chance: bool
    split_hash: str | None = None  # which split it was tested on: two models compared image by image share it


def test_predictions(checkpoint: Path, results_root: Path, keep_images: bool = True) -> TestPredictions:
    """The model of `checkpoint` on its own test split (the evaluation crop), as probabilities; the crops are
    kept (uint8) only when asked: FI's test split at 375 px is gigabytes."""
    import torch

    from mldrnet import models
    from mldrnet.checkpoint import Checkpoint
    from mldrnet.data.evalset import for_checkpoint
    from mldrnet.models.handcrafted import to_uint8
    from mldrnet.training.hooks import describe_checkpoint

    ckpt = Checkpoint.load(checkpoint)
    model = models.load(ckpt)
    probs, labels, images = [], [], []
    with torch.inference_mode():
        for batch, y in for_checkpoint(ckpt, "test", results_root).batches():
            probs.append(torch.softmax(model(batch).float(), dim=1).numpy())
            labels.append(y.numpy())
            if keep_images:
                images.append(to_uint8(batch))
    if not probs:
        raise BenchError(f"the test split of {checkpoint} has no readable image")
    kept = np.concatenate(images) if images else np.zeros((0, 0, 0, 3), np.uint8)
    return TestPredictions(
        np.concatenate(probs),
        np.concatenate(labels),
        kept,
        ckpt.classes,
        describe_checkpoint(ckpt),
        ckpt.near_chance,
        ckpt.split_hash,
    )


def _result(name: str, title: str, ctx: ReproduceConfig, dataset: str, metric: str, columns=None) -> ExperimentResult:
    return ExperimentResult(name, title, dataset, ctx.profile, metric, list(columns or []))


def fig5(ctx: ReproduceConfig) -> ExperimentResult:
    """Per level, the filter with the highest activation on one image: --image, or else the test image MldrNet
    classifies right with the highest confidence."""
    from mldrnet import models
    from mldrnet.checkpoint import Checkpoint
    from mldrnet.training.hooks import describe_checkpoint

    data = ctx.data_config("large")
    res = _result("fig5", "Fig. 5: the strongest filter of each level on one image", ctx, data.dataset, "activation")
    cell = train_cell(ctx, "mldrnet", data, seeds=[0])
    path = checkpoint_of(cell)
    if path is None:
        res.notes.append(f"MldrNet did not train: {'; '.join(cell.errors) or 'no checkpoint'}")
        return res
    ckpt = Checkpoint.load(path)
    image_rgb, what = _fig5_image(ctx, path, ckpt)
    model = models.load(ckpt)
    levels = figures.strongest_filters(model, _normalized(image_rgb, ckpt))
    figures.draw_fig5(image_rgb, levels, figures.first_level_weights(model), ctx.out / "fig5.png")
    res.figures.append("fig5.png")
    res.notes.append(f"image: {what}; model: mldrnet ({describe_checkpoint(ckpt)})")
    res.notes += [
        f"level {a.level}: filter {a.filter} peaks at {a.peak:.2f} on a {a.activation.shape[0]}x"
        f"{a.activation.shape[1]} map"
        for a in levels
    ]
    return res


def _fig5_image(ctx: ReproduceConfig, path: Path, ckpt) -> tuple[np.ndarray, str]:
    """(the evaluation crop as RGB uint8, what it is)."""
    if ctx.image:
        from mldrnet.data.decode import decode_image
        from mldrnet.data.transforms import eval_transform
        from mldrnet.models.handcrafted import to_uint8

        tensor = eval_transform(ckpt.preprocessing)(decode_image(ctx.image))
        return to_uint8(tensor.unsqueeze(0))[0], f"{ctx.image} (centre crop at {ckpt.preprocessing.crop} px)"
    pred = test_predictions(path, ctx.results_root)
    right = np.flatnonzero(pred.probs.argmax(1) == pred.labels)
    pick = int(right[np.argmax(pred.probs[right].max(1))]) if len(right) else 0
    return pred.images[pick], (
        f"test image {pick} (true {pred.classes[pred.labels[pick]]}, MldrNet {pred.probs[pick].max():.0%} sure)"
    )


def _normalized(image_rgb: np.ndarray, ckpt):
    """The evaluation crop (uint8) back to the model's normalized input tensor (1, 3, H, W)."""
    import torch

    x = torch.from_numpy(image_rgb).permute(2, 0, 1).float().div(255)
    prep = ckpt.preprocessing
    mean, std = torch.tensor(prep.mean).view(3, 1, 1), torch.tensor(prep.std).view(3, 1, 1)
    return ((x - mean) / std).unsqueeze(0)


FIG6_MODELS = (("AlexNet", "alexnet"), ("MldrNet", "mldrnet"))


def fig6(ctx: ReproduceConfig) -> ExperimentResult:
    """Confusion matrices of AlexNet and MldrNet trained on the well and the noisy set (the figure: seed 0). The
    table: per seed, the mean per-class accuracy and the fear <-> sadness confusion (the pair the paper names)."""
    well = ctx.data_config("large")
    noisy, how = _noisy_variant(ctx, well)
    res = _result(
        "fig6",
        "Fig. 6: confusion matrices of AlexNet and MldrNet, well and noisy training sets",
        ctx,
        well.dataset,
        "mean per-class accuracy / fear<->sadness confusion on the test split (%)",
        ["well", "noisy", "fear<->sadness well", "fear<->sadness noisy"],
    )
    res.notes.append(how)
    matrices, subtitles, classes = {}, {}, None
    for label, model in FIG6_MODELS:
        cells = {}
        for column, data in (("well", well), ("noisy", noisy)):
            cells[column], cells[f"fear<->sadness {column}"], first = _confusion_cells(ctx, model, data)
            if first is not None:
                cm, pred = first
                classes = list(pred.classes)
                matrices[f"{label}, {column}"] = cm
                subtitles[f"{label}, {column}"] = pred.how_trained + (" (near chance)" if pred.near_chance else "")
                res.notes.append(_confusions_line(f"{label}, {column}", cm, pred.classes))
        res.rows.append(Row(label, model, {}, cells))
    if matrices:
        figures.draw_confusions(matrices, classes, ctx.out / "fig6.png", subtitles)
        res.figures.append("fig6.png")
    accuracy, fear_sad = ("well", "noisy"), ("fear<->sadness well", "fear<->sadness noisy")
    res.claims = [
        claims.greater(
            "MldrNet confuses fewer emotions than AlexNet (higher mean per-class accuracy)",
            [("MldrNet", res.cell("mldrnet", c), "AlexNet", res.cell("alexnet", c)) for c in accuracy],
            claims.pooled_std(res, accuracy),
        ),
        claims.greater(
            "MldrNet confuses fear and sadness less than AlexNet",
            [("AlexNet", res.cell("alexnet", c), "MldrNet", res.cell("mldrnet", c)) for c in fear_sad],
            claims.pooled_std(res, fear_sad),
        ),
        claims.fig6(res),
    ]
    return res


def _confusion_cells(ctx: ReproduceConfig, model: str, data):
    """(mean per-class accuracy cell, fear<->sadness confusion cell, (confusion, predictions) of the first seed)."""
    from mldrnet.evaluation.metrics import confusion

    cell = train_cell(ctx, model, data)
    accuracy, fear_sad, first = [], [], None
    for run in cell.runs:
        path = checkpoint_of(cell, run.index)
        if path is None:
            accuracy.append(run)
            continue
        pred = test_predictions(path, ctx.results_root, keep_images=False)
        cm = confusion(pred.labels, pred.probs.argmax(1), len(pred.classes))
        meta = (run.index, run.how_trained, run.near_chance, None, run.seconds, run.skipped, run.run_dir)
        accuracy.append(Run(100.0 * (1.0 - figures.off_diagonal_mass(cm)), *meta))
        pair = _fear_sadness(cm, pred.classes)
        if pair is not None:
            fear_sad.append(Run(pair, *meta))
        first = first or (cm, pred)
    fear_sad_cell = Cell(tuple(fear_sad), "seeds", note="" if fear_sad else "no fear/sadness")
    return Cell(tuple(accuracy), "seeds"), fear_sad_cell, first


def _fear_sadness(cm: np.ndarray, classes) -> float | None:
    """Mean of the fear->sadness and sadness->fear rates (%), None without both classes."""
    classes = list(classes)
    if "fear" not in classes or "sadness" not in classes:
        return None
    rates, f, s = figures.row_rates(cm), classes.index("fear"), classes.index("sadness")
    return 50.0 * (rates[f, s] + rates[s, f])


def _confusions_line(name: str, cm: np.ndarray, classes) -> str:
    pairs = figures.confused_pairs(cm, list(classes), top=3)
    rates = figures.row_rates(cm)
    fear, sad = (
        list(classes).index("fear") if "fear" in classes else None,
        list(classes).index("sadness") if "sadness" in classes else None,
    )
    fs = (
        f"; fear->sadness {rates[fear, sad]:.0%}, sadness->fear {rates[sad, fear]:.0%}"
        if None not in (fear, sad)
        else ""
    )
    most = ", ".join(f"{p.true}->{p.predicted} {p.rate:.0%}" for p in pairs) or "none"
    return f"{name}: most confused {most}{fs}"


def fig7(ctx: ReproduceConfig) -> ExperimentResult:
    """Test images MldrNet gets right and AlexNet wrong, with both predicted distributions."""
    data = ctx.data_config("large")
    res = _result(
        "fig7",
        "Fig. 7: images MldrNet classifies right and AlexNet wrong",
        ctx,
        data.dataset,
        "share of the test split (%)",
        ["share"],
    )
    preds = {}
    for _label, model in FIG6_MODELS:
        path = checkpoint_of(train_cell(ctx, model, data, seeds=[0]))
        if path is None:
            res.notes.append(f"{model} did not train: no figure")
            return res
        preds[model] = test_predictions(path, ctx.results_root, keep_images=model == "mldrnet")  # it draws these
    m, a = preds["mldrnet"], preds["alexnet"]
    if m.split_hash != a.split_hash or not np.array_equal(m.labels, a.labels):
        raise BenchError(
            "MldrNet and AlexNet were tested on different images (their runs have different splits): "
            "train both on the same data"
        )
    right_m, right_a = m.probs.argmax(1) == m.labels, a.probs.argmax(1) == a.labels
    for label, mask in (
        ("MldrNet right, AlexNet wrong", right_m & ~right_a),
        ("AlexNet right, MldrNet wrong", right_a & ~right_m),
    ):
        how = f"mldrnet: {m.how_trained}; alexnet: {a.how_trained}"
        near = m.near_chance or a.near_chance
        res.rows.append(Row(label, "", {}, {"share": Cell((Run(100.0 * mask.mean(), 0, how, near),), "seeds")}))
    picked = figures.pick_examples(m.labels, m.probs, a.probs, n=6)
    if a.near_chance:
        res.notes.append("alexnet stayed near chance: the contrast says little about the architectures")
    if not picked:
        res.notes.append("no test image is classified right by MldrNet and wrong by AlexNet: no figure")
        return res
    figures.draw_fig7(
        [m.images[i] for i in picked],
        m.labels[picked],
        m.probs[picked],
        a.probs[picked],
        list(m.classes),
        ctx.out / "fig7.png",
    )
    res.figures.append("fig7.png")
    return res
