"""`bench reproduce`: the claim checker on fabricated results, the report, and every experiment end to end on
tiny synthetic sets (one epoch, a few dozen images: seconds per experiment)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
from scipy import stats

from bench.reproduce import claims
from bench.reproduce.results import (
    NOT_SUPPORTED,
    NOT_TESTABLE,
    SUPPORTED,
    UNDERPOWERED,
    Cell,
    ExperimentResult,
    Row,
    Run,
)
from mldrnet.evaluation import statistics as st


def cell(*values, near_chance=False, unit="seeds") -> Cell:
    return Cell(tuple(Run(v, i, "quick, 1 ep, 64 px, from scratch", near_chance) for i, v in enumerate(values)), unit)


def result(name: str, cells: dict[str, Cell | dict[str, Cell]], columns=("top-1",)) -> ExperimentResult:
    rows = [Row(m, m, {}, c if isinstance(c, dict) else {columns[0]: c}) for m, c in cells.items()]
    return ExperimentResult(name, name, "synth", "quick", "top-1", list(columns), rows)


# --- Cell --------------------------------------------------------------------------------------------------------


def test_cell_mean_std_and_text():
    c = cell(60.0, 64.0)
    assert c.mean == 62.0 and c.std == pytest.approx(2.8284, abs=1e-4)
    assert c.text() == "62.00 ± 2.83 (2 seeds)"
    assert cell(50.0).std is None and cell(50.0).text() == "50.00 (1 seed)"
    failed = Cell((Run(None, 0, error="boom"),))
    assert failed.mean is None and failed.text() == "failed" and failed.errors == ["boom"]
    assert Cell((), note="not evaluable: 3 images").text() == "not evaluable"


def test_cell_is_near_chance_when_any_run_is():
    assert cell(13.0, 14.0, near_chance=True).near_chance
    assert Cell((Run(13.0, 0, near_chance=True), Run(60.0, 1), Run(61.0, 2))).near_chance
    assert not cell(60.0, 61.0).near_chance


# --- the claim checker -------------------------------------------------------------------------------------------


def test_greater_is_judged_by_students_t_not_two_standard_errors():
    # two runs each, sd sqrt(2) each: se sqrt(2/2 + 2/2) = 1.414, Welch df 2, margin t(0.975, 2) 1.414 = 6.08
    clear = claims.compare("a", cell(70.0, 72.0), "b", cell(60.0, 62.0))
    assert clear.greater and clear.diff == pytest.approx(10.0) and clear.df == pytest.approx(2.0)
    assert clear.margin == pytest.approx(stats.t.ppf(0.975, 2) * math.sqrt(2))
    close = claims.compare("a", cell(66.0, 68.0), "b", cell(61.0, 63.0))  # +5 was "greater" at 2 se (2.83)
    assert close.testable and not close.greater
    three = claims.compare("a", cell(66.0, 67.0, 68.0), "b", cell(61.0, 62.0, 63.0))  # three seeds: df 4
    ref = stats.ttest_ind([66.0, 67.0, 68.0], [61.0, 62.0, 63.0], equal_var=False).confidence_interval(0.95)
    assert three.greater and three.margin == pytest.approx((ref.high - ref.low) / 2)


def test_two_runs_that_agree_never_give_a_margin_of_zero():
    # the bug: 80/80 against 79.7/79.7 gave a margin of 0.00 and "greater"
    alone = claims.compare("a", cell(80.0, 80.0), "b", cell(79.7, 79.7))
    assert not alone.greater and not alone.testable and "spread of 0 is not evidence" in alone.problem
    assert math.isnan(alone.margin)
    res = result("t", {"a": cell(80.0, 80.0), "b": cell(79.7, 79.7), "c": cell(60.0, 62.0, 61.0)})
    pooled = claims.pooled_std(res)  # (0 + 0 + 1 x 2) / (1 + 1 + 2) = 0.5: the agreeing cells count, with zero
    assert pooled.sd == pytest.approx(math.sqrt(0.5)) and pooled.df == 4
    judged = claims.compare("a", res.cell("a"), "b", res.cell("b"), pooled)
    assert judged.testable and judged.margin > 0.5 and not judged.greater


def test_one_run_each_or_a_near_chance_model_is_not_testable():
    assert "no run-to-run spread" in claims.compare("a", cell(70.0), "b", cell(60.0)).problem
    assert "near chance" in claims.compare("a", cell(70.0, 71.0), "b", cell(13.0, 14.0, near_chance=True)).problem
    assert "no result" in claims.compare("a", cell(70.0, 71.0), "b", None).problem
    one_side = claims.compare("a", cell(70.0, 72.0), "b", cell(60.0))  # b takes the spread pooled from a (df 1)
    assert one_side.testable and one_side.se == pytest.approx(math.sqrt(2 / 2 + 2 / 1))
    pooled = claims.compare("a", cell(70.0), "b", cell(60.0), pooled=st.Spread(1.0, 10))  # the table's spread
    assert pooled.greater and pooled.df == pytest.approx(20.0)
    assert pooled.margin == pytest.approx(stats.t.ppf(0.975, 20) * math.sqrt(2))


def test_a_failing_part_outweighs_an_untestable_one():
    claim = claims.greater(
        "x",
        [("a", cell(50.0, 51.0), "b", cell(60.0, 61.0)), ("a", cell(50.0, 51.0), "c", cell(13.0, near_chance=True))],
    )
    assert claim.verdict == NOT_SUPPORTED and "near chance" in claim.evidence
    claim = claims.greater(
        "x",
        [("a", cell(70.0, 71.0), "b", cell(60.0, 61.0)), ("a", cell(70.0, 71.0), "c", cell(13.0, near_chance=True))],
    )
    assert claim.verdict == NOT_TESTABLE


def test_folds_are_compared_paired_with_the_nadeau_bengio_correction():
    # b is always 3 points below a, whatever the fold's difficulty: a clear win despite a big fold spread
    a = cell(50.0, 70.0, 90.0, 60.0, 80.0, unit="folds")
    b = cell(47.0, 67.0, 87.0, 57.0, 77.0, unit="folds")
    cmp = claims.compare("a", a, "b", b)
    assert cmp.greater and cmp.diff == pytest.approx(3.0) and cmp.margin == pytest.approx(0.0)
    # differences 1..5 over 5 of a 10-fold cross-validation: variance (1/5 + 1/9) 2.5, df 4
    b = Cell(tuple(Run(v - d, i) for i, (v, d) in enumerate(zip(a.values, (1, 2, 3, 4, 5)))), "folds", folds=10)
    cmp = claims.compare("a", Cell(a.runs, "folds", folds=10), "b", b)
    assert cmp.se == pytest.approx(math.sqrt((1 / 5 + 1 / 9) * 2.5)) and cmp.df == 4 and "Nadeau-Bengio" in cmp.how


LEVELS_SUPPORTING = {
    "mldrnet-l2": cell(50.0, 51.0, 52.0),
    "mldrnet-l3": cell(57.0, 58.0, 59.0),
    "mldrnet": cell(67.0, 67.2, 67.4),
    "mldrnet-l5": cell(67.1, 67.3, 67.5),
    "mldrnet-l6": cell(66.9, 67.2, 67.3),
}


def test_table1_claims_supported_contradicted_and_underpowered():
    rise, little = claims.table1(result("table1", LEVELS_SUPPORTING))
    assert (rise.verdict, little.verdict) == (SUPPORTED, SUPPORTED)
    assert "TOST" in little.evidence and "±1" in little.text
    contradicting = {**LEVELS_SUPPORTING, "mldrnet-l3": cell(70.0, 71.0, 72.0), "mldrnet-l6": cell(80.0, 81.0, 82.0)}
    rise, little = claims.table1(result("table1", contradicting))
    assert (rise.verdict, little.verdict) == (NOT_SUPPORTED, NOT_SUPPORTED)
    assert "fails" in rise.evidence and "6 levels - 4 levels = +13.80" in little.evidence
    # "no difference" from two noisy seeds is not evidence of no difference
    noisy = {**LEVELS_SUPPORTING, "mldrnet-l5": cell(65.0, 70.0), "mldrnet": cell(64.0, 70.0)}
    assert claims.table1(result("table1", noisy))[1].verdict == UNDERPOWERED


def _fusions(well: dict[str, tuple], noisy: dict[str, tuple]) -> ExperimentResult:
    cells = {m: {"well": cell(*well[f]), "noisy": cell(*noisy[f])} for f, m in claims.FUSION_MODELS.items()}
    return result("table2", cells, ("well", "noisy"))


def test_table2_claims():
    paper_like = _fusions(
        {"mean": (67.0, 67.2, 67.4), "concat": (66.8, 67.0, 67.2), "max": (62, 62.5, 63), "min": (58, 58.5, 59)},
        {"mean": (64.0, 64.3, 64.5), "concat": (55, 55.5, 56), "max": (52, 52.5, 53), "min": (47, 47.5, 48)},
    )
    order, robust = claims.table2(paper_like)
    assert (order.verdict, robust.verdict) == (SUPPORTED, SUPPORTED)
    reversed_ = _fusions(
        {"mean": (58, 59, 58.5), "concat": (66, 67, 66.2), "max": (62, 63, 62.4), "min": (67, 68, 67.7)},
        {"mean": (40, 41.5, 41), "concat": (65, 66.2, 65.5), "max": (61, 62.3, 61.6), "min": (66, 67.4, 66.4)},
    )
    order, robust = claims.table2(reversed_)
    assert (order.verdict, robust.verdict) == (NOT_SUPPORTED, NOT_SUPPORTED)


TABLE3_CELLS = {
    "machajdik": cell(70.0),  # our addition: far above everything, yet outside the paper's claims
    "zhao": cell(45.0),
    "rao": cell(50.0),
    "alexnet-svm": cell(57.0, 58.0, 57.5),
    "alexnet": cell(58.0, 59.0, 58.6),
    "vgg19": cell(13.0, near_chance=True),
    "resnet101": cell(12.0, near_chance=True),
    "mldrnet": cell(67.0, 68.0, 67.4),
    "mldrnet-bigru": cell(72.0, 74.0, 73.0),
}


def test_table3_claims_as_the_paper_words_them():
    deep, slight, deeper, gru = claims.table3(result("table3", TABLE3_CELLS))
    assert (deep.verdict, slight.verdict, deeper.verdict) == (NOT_TESTABLE, NOT_TESTABLE, NOT_TESTABLE)
    assert "vgg19 stayed near chance" in deeper.evidence
    assert "alexnet-svm - rao" in deep.evidence and "machajdik" not in deep.evidence  # Machajdik kept out
    assert "Machajdik, our addition, left out" in deep.text and "test of our design" in gru.text
    assert gru.verdict == SUPPORTED and "slightly" in slight.text
    trained = {**TABLE3_CELLS, "vgg19": cell(59.0, 59.6, 59.3), "resnet101": cell(60.0, 60.6, 60.2)}
    deep, slight, deeper, _ = claims.table3(result("table3", trained))
    assert (deep.verdict, slight.verdict, deeper.verdict) == (SUPPORTED, SUPPORTED, SUPPORTED)
    much_better = {**trained, "resnet101": cell(68.0, 68.6, 68.2)}  # +9.6 over AlexNet: not "slightly"
    assert claims.table3(result("table3", much_better))[1].verdict == NOT_SUPPORTED
    worse = {**trained, "mldrnet": cell(55.0, 56.0, 55.4)}
    assert claims.table3(result("table3", worse))[2].verdict == NOT_SUPPORTED


def test_fig6_robustness_claim():
    cells = {
        "alexnet": {"well": cell(60.0, 61.0, 60.4), "noisy": cell(50.0, 51.5, 50.2)},
        "mldrnet": {"well": cell(66.0, 67.0, 66.6), "noisy": cell(63.0, 64.2, 63.5)},
    }
    claim = claims.fig6(result("fig6", cells, ("well", "noisy")))
    assert claim.verdict == SUPPORTED and "AlexNet drop - MldrNet drop" in claim.evidence
    cells["mldrnet"]["noisy"] = cell(50.0, 51.0, 50.5)  # loses more than AlexNet
    assert claims.fig6(result("fig6", cells, ("well", "noisy"))).verdict == NOT_SUPPORTED


def test_table4_and_small_set_claims_use_paired_folds():
    base = [60.0, 70.0, 65.0, 75.0, 68.0]
    folds = {m: cell(*[v - 2.0 for v in base], unit="folds") for m in claims.MART_BASELINES}
    best = claims.table4(result("table4", {**folds, "mldrnet": cell(*base, unit="folds")}))[0]
    assert best.verdict == SUPPORTED
    worst = claims.table4(result("table4", {**folds, "mldrnet": cell(*[v - 4 for v in base], unit="folds")}))[0]
    assert worst.verdict == NOT_SUPPORTED
    classes = ("amusement", "anger", "awe")
    rows = {
        "machajdik": {c: cell(*[v - 5 for v in base], unit="folds") for c in classes},
        "alexnet": {c: cell(*[v - 3 for v in base], unit="folds") for c in classes},
        "mldrnet": {c: cell(*base, unit="folds") for c in classes},
    }
    rows["mldrnet"]["anger"] = Cell((), "folds", note="not evaluable: 3 images")
    deep, best, alexnet_low = claims.small_set(result("fig9", rows, classes))
    assert best.verdict == SUPPORTED and "2 of 2 judged" in best.evidence
    assert deep.verdict == SUPPORTED and "Abstract" in alexnet_low.text and alexnet_low.verdict == SUPPORTED
    assert len(claims.small_set(result("fig10", rows, classes))) == 2  # the paper says it of ArtPhoto and Abstract


def test_almost_all_categories_means_all_but_at_most_one():
    base = [60.0, 70.0, 65.0, 75.0, 68.0]
    classes = ("a", "b", "c", "d", "e")

    def best_claim(losses: int):
        other = {c: cell(*[v - 3 for v in base], unit="folds") for c in classes}
        mine = {c: cell(*[v + (-5 if i < losses else 0) for v in base], unit="folds") for i, c in enumerate(classes)}
        return claims.small_set(result("fig10", {"alexnet": other, "mldrnet": mine}, classes))[1]

    assert best_claim(1).verdict == SUPPORTED and "4 of 5" in best_claim(1).evidence
    assert best_claim(2).verdict == NOT_SUPPORTED  # 3 of 5 is a majority, not "almost all"


# --- the report --------------------------------------------------------------------------------------------------


def test_report_renders_markdown_json_and_png(tmp_path):
    from bench.reproduce.report import markdown, rich_table, write_report

    res = result("table1", LEVELS_SUPPORTING)
    res.rows[0].paper["top-1"] = 52.12
    res.claims = claims.table1(res)
    res.rows.append(Row("VGG", "vgg19", {"top-1": 59.32}, {"top-1": cell(13.0, near_chance=True)}))
    text = markdown(res)
    assert "| mldrnet-l2 | 52.12 | 51.00 ± 1.00 (3 seeds) | -1.12 | quick, 1 ep, 64 px, from scratch |" in text
    assert "(near chance)" in text and "**supported**" in text
    write_report([res], tmp_path)
    report = (tmp_path / "report.md").read_text()
    assert "![table1.png](table1.png)" in report and (tmp_path / "table1.png").read_bytes()[:4] == b"\x89PNG"
    data = json.loads((tmp_path / "results.json").read_text())
    row = data["experiments"][0]["rows"][0]
    assert row["ours"]["top-1"]["mean"] == 51.0 and row["paper"]["top-1"] == 52.12
    assert data["experiments"][0]["claims"][0]["verdict"] == SUPPORTED
    assert rich_table(res).row_count == 6


# --- end to end on tiny synthetic sets -----------------------------------------------------------------------------

TINY_COUNTS = {
    "artphoto": (10, 10, 10, 10, 10, 10, 10, 11),
    "abstract": (10, 3, 10, 10, 10, 10, 10, 10),
    "iaps": (10, 8, 10, 10, 10, 10, 10, 10),
    "mart": (12, 12),
}


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory):
    """Every experiment once, on tiny sets: 96 images of 64 px for the large set (12 per class: the least with a
    val image), a few per class for the small sets, 24 for the binary set (2 of its 10 folds), one epoch, one seed."""
    from bench.reproduce.context import ReproduceConfig
    from bench.reproduce.run import EXPERIMENTS, run_experiments
    from mldrnet.data import synth

    mp = pytest.MonkeyPatch()
    for kind, counts in TINY_COUNTS.items():
        mp.setitem(synth.COUNTS, kind, counts)
    root = tmp_path_factory.mktemp("reproduce")
    ctx = ReproduceConfig(
        root,
        root / "report",
        seeds=1,
        max_folds=2,
        data_overrides=dict(synth_n=96, synth_size=64),
        train_overrides=dict(epochs=1, crop=64, batch_size=16),
    )
    try:
        results = {r.name: r for r in run_experiments(list(EXPERIMENTS), ctx)}
    finally:
        mp.undo()
    yield ctx, results
    shutil.rmtree(root, ignore_errors=True)  # 6 GB of runs (VGG-19's weights among them): not kept to the end


def test_every_experiment_runs_and_the_report_holds_them(reproduced):
    ctx, results = reproduced
    assert set(results) == {"table1", "table2", "table3", "table4", "fig5", "fig6", "fig7", "fig8", "fig9", "fig10"}
    assert not [n for r in results.values() for n in r.notes if n.startswith("failed")]
    report = (ctx.out / "report.md").read_text()
    for name in results:
        assert f"| {name} |" in report
    data = json.loads((ctx.out / "results.json").read_text())
    assert [e["name"] for e in data["experiments"]] == list(results)


def test_tables_have_every_system_with_how_it_was_trained(reproduced):
    _, results = reproduced
    assert [r.model for r in results["table1"].rows] == list(claims.LEVEL_MODELS.values())
    assert results["table2"].columns == ["well", "noisy"]
    assert [r.model for r in results["table3"].rows][:3] == ["machajdik", "zhao", "rao"]
    for name in ("table1", "table2", "table3"):
        for row in results[name].rows:
            for c in row.cells.values():
                assert c.mean is not None and c.how_trained, (name, row.model)
    mldrnet = results["table1"].cell("mldrnet")
    assert mldrnet.how_trained == "quick, 1 ep, 64 px, from scratch"
    assert results["table1"].row("mldrnet").paper["top-1"] == 67.24
    # one epoch on a few dozen images does not learn: the rows say so, and no claim is judged on them
    assert all(c.verdict == NOT_TESTABLE for c in results["table3"].claims[:2])


def test_table4_is_a_cross_validation_over_folds(reproduced):
    _, results = reproduced
    res = results["table4"]
    assert res.dataset == "synth-mart" and res.paper_dataset == "MART"
    for row in res.rows:
        c = row.cells["top-1"]
        assert c.unit == "folds" and sorted(r.index for r in c.runs) == [0, 1], row.model


def test_small_sets_follow_the_one_against_all_protocol(reproduced):
    ctx, results = reproduced
    res = results["fig9"]
    assert res.dataset == "synth-abstract" and res.columns[1] == "anger"
    assert [r.model for r in res.rows] == ["machajdik", "zhao", "rao", "alexnet", "mldrnet"]
    for row in res.rows:
        assert row.cells["anger"].mean is None and row.cells["anger"].note.startswith("not evaluable")
        assert row.cells["amusement"].n == 5  # one TPR per fold
        # C chosen on inner folds of each training fold: one per (class, fold), counted in the notes
        assert len(row.cells["amusement"].chosen_c) == 5
        note = next(n for n in res.notes if n.startswith(f"{row.system}: C chosen on 3 inner folds"))
        assert sum(int(part.split(" x")[1]) for part in note.split(": ")[-1].split(", ")) == 5 * 7  # 7 evaluable
    assert any(n.startswith("anger: not evaluable") for n in res.notes)
    assert (ctx.out / "fig9.png").is_file()
    fig10 = results["fig10"]  # 8 images of anger: fewer than two per test fold, left out as the paper does
    assert fig10.cell("mldrnet", "anger").mean is None and fig10.cell("mldrnet", "awe").n == 5


def test_every_run_keeps_its_predictions_and_code_version(reproduced):
    from mldrnet.training.predictions import PREDICTIONS_FILE, Predictions
    from mldrnet.training.source import source_hash

    _, results = reproduced
    runs = [r for res in results.values() for r in res.runs if r.run_dir]
    assert runs and all(r.test_images > 0 for r in runs)
    for r in {r.run_dir: r for r in runs}.values():
        done = json.loads((Path(r.run_dir) / "result.json").read_text())
        assert done["source_hash"] == source_hash() and done["test_images"] == r.test_images
        pred = Predictions.load(Path(r.run_dir) / PREDICTIONS_FILE)
        assert len(pred.paths) == r.test_images and pred.probs.shape[1] == len(pred.classes)
    # table2 asks for table1's mldrnet again: reused, and its report says so
    assert any(r.skipped for r in results["table2"].runs) and not any(r.skipped for r in results["table1"].runs)


def test_mldrnet_is_compared_with_each_system_on_the_same_images(reproduced):
    ctx, results = reproduced
    rows = results["table3"].paired
    assert [r.b for r in rows] == [row.system for row in results["table3"].rows if row.model != "mldrnet"]
    for r in rows:
        assert not r.problem and r.images > 0 and 0 <= r.p <= r.p_holm <= 1, r
        assert r.boot_low <= r.diff <= r.boot_high and r.wilson_a[0] <= r.acc_a <= r.wilson_a[1]
    assert {r.a for r in results["table2"].paired} == {"mean (well)", "mean (noisy)"}
    assert results["table4"].paired[0].images == sum(
        r.test_images for r in results["table4"].cell("mldrnet").runs
    )  # the folds' test images together
    assert len(results["fig6"].paired) == 2  # well and noisy; the confusion columns are the same runs
    report = (ctx.out / "report.md").read_text()
    assert "McNemar p" in report and "95 % Wilson top-1" in report and "Runs: " in report and "- reused: `" in report
    for c in results["table3"].claims:
        assert c.data.startswith("synth (synthetic, palette, composition and shape") and "test images" in c.data
    data = report[report.index("## The data") :].split("\n\n")[1]  # what each synthetic set holds, first
    assert "- synth: palette, composition and shape together carry 8 emotions" in data
    assert "- synth-mart: hue harmony" in data and "Nothing here is about photographs" in data


def test_table1_on_a_cue_ablation_set_names_its_data(tmp_path):
    """Table I on synth-mid, where only the composition carries the (2-class) label: every verdict says so."""
    from bench.reproduce.context import ReproduceConfig
    from bench.reproduce.run import run_experiments

    ctx = ReproduceConfig(
        tmp_path,
        tmp_path / "report",
        dataset="synth-mid",
        seeds=1,
        data_overrides=dict(synth_n=48, synth_size=64),
        train_overrides=dict(epochs=1, crop=64, batch_size=16),
    )
    (res,) = run_experiments(["table1"], ctx)
    assert res.dataset == "synth-mid" and res.claims
    assert all(c.data.startswith("synth-mid (synthetic, only the composition (mid level)") for c in res.claims)
    report = (tmp_path / "report" / "report.md").read_text()
    assert "- synth-mid: only the composition (mid level) carries the label" in report


def test_figures_are_drawn(reproduced):
    ctx, results = reproduced
    for name in ("fig5", "fig6"):
        assert results[name].figures == [f"{name}.png"] and (ctx.out / f"{name}.png").is_file()
    assert [r.model for r in results["fig6"].rows] == ["alexnet", "mldrnet"]
    assert any("most confused" in n for n in results["fig6"].notes)
    fig7 = results["fig7"]
    assert [r.system for r in fig7.rows] == ["MldrNet right, AlexNet wrong", "AlexNet right, MldrNet wrong"]
    assert fig7.figures in ([], ["fig7.png"])


def test_cli_refuses_a_dataset_the_experiment_cannot_use(tmp_path):
    from typer.testing import CliRunner

    from bench.cli import _register_commands, app

    _register_commands()
    r = CliRunner().invoke(
        app, ["reproduce", "table4", "--dataset", "fi", "--data-root", str(tmp_path), "--results-dir", str(tmp_path)]
    )
    assert r.exit_code == 1 and "table4 runs on synth-mart or mart" in str(r.exception or r.output)
    r = CliRunner().invoke(app, ["reproduce", "table9", "--results-dir", str(tmp_path)])
    assert r.exit_code == 1 and "unknown experiment 'table9'" in str(r.exception or r.output)


def test_run_keys_of_seeds_and_splits_do_not_collide():
    from types import SimpleNamespace as NS

    from mldrnet.io.layout import run_key

    data = NS(name="synth", folds=0)

    def cfg(**changes):
        return NS(**{"fold": 0, "label_noise": 0.0, "noisy_extra": None, "seed": 0, **changes})

    assert run_key(cfg(), data) == "synth"
    assert run_key(cfg(), data, 1) == "synth-seed1"  # bench reproduce: the training seed only
    assert run_key(cfg(seed=1), data, 1) == "synth-split1-seed1"  # bench train --seed 1: split and training
    assert run_key(cfg(label_noise=0.3), data, 2) == "synth-noise0.3-seed2"


def test_cli_reuses_what_train_trained_and_writes_the_report(tmp_path):
    """`bench reproduce` trains seed 0 exactly as `bench train` does: a model trained before is reused."""
    from typer.testing import CliRunner

    from bench.cli import _register_commands, app

    _register_commands()
    tiny = ["--synth-n", "96", "--synth-size", "64", "--epochs", "1", "--crop", "64", "--results-dir", str(tmp_path)]
    runner = CliRunner()
    r = runner.invoke(app, ["train", "mldrnet", "--no-progress", *tiny])
    assert r.exit_code == 0, r.output
    best = tmp_path / "runs" / "synth" / "mldrnet" / "best.pt"
    before = best.stat().st_mtime_ns
    image = sorted((tmp_path / "data").rglob("*.jpg"))[0]
    r = runner.invoke(
        app, ["reproduce", "fig5", "--no-progress", "--image", str(image), "--out", str(tmp_path / "report"), *tiny]
    )
    assert r.exit_code == 0, r.output
    assert best.stat().st_mtime_ns == before  # reused, not trained again
    assert (tmp_path / "report" / "fig5.png").is_file() and "fig5" in (tmp_path / "report" / "report.md").read_text()
    data = json.loads((tmp_path / "report" / "results.json").read_text())
    notes = data["experiments"][0]["notes"]
    assert any("level 1: filter" in n for n in notes) and any(str(image) in n for n in notes)
    r = runner.invoke(app, ["reproduce", "fig5", "--image", str(tmp_path / "missing.jpg"), *tiny])
    assert r.exit_code == 1 and "no such file" in str(r.exception or r.output)
    r = runner.invoke(app, ["reproduce", "fig5", "--no-progress", "--force", "--out", str(tmp_path / "forced"), *tiny])
    assert r.exit_code == 0, r.output
    assert best.stat().st_mtime_ns != before  # --force: trained again
    assert "- trained: `" in (tmp_path / "forced" / "report.md").read_text()


def test_a_run_trained_by_other_code_is_not_reused(tmp_path, monkeypatch):
    """The source hash is part of the config hash: after a change to the model, data or training code a run is
    trained again instead of being reported as it was."""
    from mldrnet.data import DataConfig
    from mldrnet.training.config import resolve
    from mldrnet.training.loop import train_model

    cfg = resolve("mldrnet", "quick", epochs=1, crop=64, batch_size=16)
    data = DataConfig(synth_n=96, synth_size=64)
    first = train_model(cfg, data, tmp_path)
    assert first.ok and first.source_hash and not first.skipped
    assert train_model(cfg, data, tmp_path).skipped
    monkeypatch.setattr("mldrnet.training.loop.source_hash", lambda: "0123456789abcdef")
    again = train_model(cfg, data, tmp_path)
    assert not again.skipped and again.source_hash == "0123456789abcdef"


def test_the_cli_names_every_experiment():
    """The CLI spells the names out (checked before torch is imported): they must be the runner's."""
    from bench.cli.reproduce import EXPERIMENT_NAMES
    from bench.reproduce.run import ALL, EXPERIMENTS

    assert EXPERIMENT_NAMES == (*EXPERIMENTS, ALL)
