"""`bench reproduce`: the claim checker on fabricated results, the report, and every experiment end to end on
tiny synthetic sets (one epoch, a few dozen images: seconds per experiment)."""

from __future__ import annotations

import json

import pytest

from bench.reproduce import claims
from bench.reproduce.results import NOT_SUPPORTED, NOT_TESTABLE, SUPPORTED, Cell, ExperimentResult, Row, Run


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


def test_greater_is_judged_against_the_seed_spread_not_zero():
    # two standard errors of the difference of the means: 2 sqrt(2/2 + 2/2) = 2.83
    clear = claims.compare("a", cell(70.0, 72.0), "b", cell(60.0, 62.0))
    assert clear.greater and clear.diff == pytest.approx(10.0) and clear.margin == pytest.approx(2.8284, abs=1e-4)
    within = claims.compare("a", cell(61.0, 65.0), "b", cell(60.0, 64.0))  # +1 against a margin of 5.66
    assert within.testable and not within.greater and within.not_less


def test_one_run_each_or_a_near_chance_model_is_not_testable():
    assert "no run-to-run spread" in claims.compare("a", cell(70.0), "b", cell(60.0)).problem
    assert "near chance" in claims.compare("a", cell(70.0, 71.0), "b", cell(13.0, 14.0, near_chance=True)).problem
    assert "no result" in claims.compare("a", cell(70.0, 71.0), "b", None).problem
    one_side = claims.compare("a", cell(70.0, 72.0), "b", cell(60.0))  # b's spread taken as a's: 2 sqrt(2/2 + 2/1)
    assert one_side.testable and one_side.margin == pytest.approx(3.4641, abs=1e-4)
    pooled = claims.compare("a", cell(70.0), "b", cell(60.0), pooled=1.0)  # single runs judged by the table's spread
    assert pooled.greater and pooled.margin == pytest.approx(2.8284, abs=1e-4)


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


def test_folds_are_compared_paired():
    # b is always 3 points below a, whatever the fold's difficulty: a clear win despite a big fold spread
    a = cell(50.0, 70.0, 90.0, 60.0, 80.0, unit="folds")
    b = cell(47.0, 67.0, 87.0, 57.0, 77.0, unit="folds")
    cmp = claims.compare("a", a, "b", b)
    assert cmp.greater and cmp.diff == pytest.approx(3.0) and cmp.margin == pytest.approx(0.0)


LEVELS_SUPPORTING = {
    "mldrnet-l2": cell(50.0, 52.0),
    "mldrnet-l3": cell(57.0, 59.0),
    "mldrnet": cell(66.0, 68.0),
    "mldrnet-l5": cell(66.5, 68.0),
    "mldrnet-l6": cell(66.0, 67.0),
}


def test_table1_claims_supported_and_contradicted():
    rise, little = claims.table1(result("table1", LEVELS_SUPPORTING))
    assert (rise.verdict, little.verdict) == (SUPPORTED, SUPPORTED)
    contradicting = {**LEVELS_SUPPORTING, "mldrnet-l3": cell(70.0, 71.0), "mldrnet-l6": cell(80.0, 81.0)}
    rise, little = claims.table1(result("table1", contradicting))
    assert (rise.verdict, little.verdict) == (NOT_SUPPORTED, NOT_SUPPORTED)
    assert "fails" in rise.evidence and "6 levels - 4 levels = +13.50" in little.evidence


def _fusions(well: dict[str, tuple], noisy: dict[str, tuple]) -> ExperimentResult:
    cells = {m: {"well": cell(*well[f]), "noisy": cell(*noisy[f])} for f, m in claims.FUSION_MODELS.items()}
    return result("table2", cells, ("well", "noisy"))


def test_table2_claims():
    paper_like = _fusions(
        {"mean": (67, 68), "concat": (66, 67), "max": (62, 63), "min": (58, 59)},
        {"mean": (64, 65), "concat": (55, 56), "max": (52, 53), "min": (47, 48)},
    )
    order, robust = claims.table2(paper_like)
    assert (order.verdict, robust.verdict) == (SUPPORTED, SUPPORTED)
    reversed_ = _fusions(
        {"mean": (58, 59), "concat": (66, 67), "max": (62, 63), "min": (67, 68)},
        {"mean": (40, 41), "concat": (65, 66), "max": (61, 62), "min": (66, 67)},
    )
    order, robust = claims.table2(reversed_)
    assert (order.verdict, robust.verdict) == (NOT_SUPPORTED, NOT_SUPPORTED)


def test_table3_claims_not_testable_when_the_deep_baselines_stayed_near_chance():
    cells = {
        "machajdik": cell(40.0),
        "zhao": cell(45.0),
        "rao": cell(50.0),
        "alexnet-svm": cell(57.0, 58.0),
        "alexnet": cell(58.0, 60.0),
        "vgg19": cell(13.0, near_chance=True),
        "resnet101": cell(12.0, near_chance=True),
        "mldrnet": cell(67.0, 68.0),
        "mldrnet-bigru": cell(72.0, 74.0),
    }
    deep, deeper, gru = claims.table3(result("table3", cells))
    assert (
        deep.verdict == NOT_TESTABLE
        and deeper.verdict == NOT_TESTABLE
        and "vgg19 stayed near chance" in deeper.evidence
    )
    assert "alexnet-svm - rao" in deep.evidence  # the single-run rao judged by the table's pooled spread
    assert gru.verdict == SUPPORTED
    trained = {**cells, "vgg19": cell(59.0, 60.0), "resnet101": cell(60.0, 61.0)}
    deep, deeper, _ = claims.table3(result("table3", trained))
    assert (deep.verdict, deeper.verdict) == (SUPPORTED, SUPPORTED)
    worse = {**trained, "mldrnet": cell(55.0, 56.0)}
    assert claims.table3(result("table3", worse))[1].verdict == NOT_SUPPORTED


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
        "mldrnet": {c: cell(*base, unit="folds") for c in classes},
    }
    rows["mldrnet"]["anger"] = Cell((), "folds", note="not evaluable: 3 images")
    claim = claims.small_set(result("fig9", rows, classes))[0]
    assert claim.verdict == SUPPORTED and "2 of 2 judged" in claim.evidence


# --- the report --------------------------------------------------------------------------------------------------


def test_report_renders_markdown_json_and_png(tmp_path):
    from bench.reproduce.report import markdown, rich_table, write_report

    res = result("table1", LEVELS_SUPPORTING)
    res.rows[0].paper["top-1"] = 52.12
    res.claims = claims.table1(res)
    res.rows.append(Row("VGG", "vgg19", {"top-1": 59.32}, {"top-1": cell(13.0, near_chance=True)}))
    text = markdown(res)
    assert "| mldrnet-l2 | 52.12 | 51.00 ± 1.41 (2 seeds) | -1.12 | quick, 1 ep, 64 px, from scratch |" in text
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
    """Every experiment once, on tiny sets: 48 images of 64 px for the large set, a few per class for the small
    sets, 24 for the binary set (2 of its 10 folds), one epoch, one seed."""
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
        data_overrides=dict(synth_n=48, synth_size=64),
        train_overrides=dict(epochs=1, crop=64, batch_size=16),
    )
    try:
        results = {r.name: r for r in run_experiments(list(EXPERIMENTS), ctx)}
    finally:
        mp.undo()
    return ctx, results


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
    assert any(n.startswith("anger: not evaluable") for n in res.notes)
    assert (ctx.out / "fig9.png").is_file()
    fig10 = results["fig10"]  # 8 images of anger: fewer than two per test fold, left out as the paper does
    assert fig10.cell("mldrnet", "anger").mean is None and fig10.cell("mldrnet", "awe").n == 5


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
    tiny = ["--synth-n", "48", "--synth-size", "64", "--epochs", "1", "--crop", "64", "--results-dir", str(tmp_path)]
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


def test_the_cli_names_every_experiment():
    """The CLI spells the names out (checked before torch is imported): they must be the runner's."""
    from bench.cli.reproduce import EXPERIMENT_NAMES
    from bench.reproduce.run import ALL, EXPERIMENTS

    assert EXPERIMENT_NAMES == (*EXPERIMENTS, ALL)
