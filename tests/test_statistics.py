"""mldrnet.evaluation.statistics: every value checked by hand (the arithmetic is in the comments) or against the
library call it stands for; and the per-image predictions files those tests read."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from mldrnet.evaluation import statistics as st

# --- one test split ------------------------------------------------------------------------------------------


def test_wilson_interval_by_hand():
    # 45 of 50, z = 1.959964: centre (p + z²/2n) / (1 + z²/n) = 0.938415 / 1.076832 = 0.871459;
    # half z sqrt(p(1-p)/n + z²/4n²) / (1 + z²/n) = 1.959964 * 0.0467355 / 1.076832 = 0.085065
    lo, hi = st.wilson(45, 50)
    assert lo == pytest.approx(0.871459 - 0.085065, abs=1e-5) and hi == pytest.approx(0.871459 + 0.085065, abs=1e-5)
    assert st.wilson(0, 10)[0] == 0.0 and st.wilson(10, 10)[1] == pytest.approx(1.0)  # never outside 0..1
    assert all(math.isnan(x) for x in st.wilson(0, 0))
    lo_pct, hi_pct = st.wilson_pct(90.0, 50)
    assert (lo_pct, hi_pct) == pytest.approx((100 * lo, 100 * hi))


def test_exact_mcnemar_by_hand():
    # A alone right on 3 images, B alone on 9: p = 2 P(X <= 3), X ~ Bin(12, 1/2) = 2 (1 + 12 + 66 + 220) / 4096
    right_a = [True] * 3 + [False] * 9 + [True] * 20 + [False] * 5
    right_b = [False] * 3 + [True] * 9 + [True] * 20 + [False] * 5
    m = st.mcnemar_exact(right_a, right_b)
    assert (m.only_a, m.only_b) == (3, 9) and m.pvalue == pytest.approx(2 * 299 / 4096)
    assert st.mcnemar_exact([True, False], [True, False]).pvalue == pytest.approx(1.0)  # no discordant image
    with pytest.raises(ValueError):
        st.mcnemar_exact([True], [True, False])


def test_paired_bootstrap_resamples_the_same_images_for_both():
    rng = np.random.default_rng(1)
    a = rng.random(400) < 0.7
    b = a.copy()
    b[:40] = ~b[:40]  # B differs from A on 40 images
    boot = st.paired_bootstrap(a, b, seed=3)
    assert boot.estimate == pytest.approx(a.mean() - b.mean())
    assert boot.low < boot.estimate < boot.high
    assert st.paired_bootstrap(a, b, seed=3) == boot  # seeded
    # two identical models: every resample scores both on the same images, so the interval is exactly 0
    same = st.paired_bootstrap(a, a.copy(), seed=3)
    assert (same.low, same.high) == (0.0, 0.0)
    # an unpaired bootstrap would give a wide interval here; the paired one is no wider than the discordant share
    assert boot.high - boot.low < 0.1


# --- seeds: Student's t ------------------------------------------------------------------------------------------


def test_welch_matches_scipy():
    a, b = [70.0, 72.0, 71.0], [60.0, 63.0, 61.0, 62.5]
    d = st.welch(a, b)
    ref = stats.ttest_ind(a, b, equal_var=False)
    assert d.df == pytest.approx(ref.df)
    assert d.interval() == pytest.approx(tuple(ref.confidence_interval(0.95)))
    assert d.pvalue() == pytest.approx(ref.pvalue)


def test_two_seeds_get_students_t_not_two_standard_errors():
    # 2 runs each, sd sqrt(2) each: se = sqrt(2/2 + 2/2) = sqrt(2); Welch df = (1 + 1)² / (1/1 + 1/1) = 2
    d = st.welch([70.0, 72.0], [60.0, 62.0])
    assert d.se == pytest.approx(math.sqrt(2)) and d.df == pytest.approx(2.0)
    assert d.half_width() == pytest.approx(4.302653 * math.sqrt(2), rel=1e-6)  # t(0.975, 2) = 4.3027, not 2


def test_paired_t_matches_scipy():
    a, b = [70.0, 72.0, 71.0, 69.0], [68.0, 71.0, 68.5, 68.0]
    d = st.paired_t(a, b)
    ref = stats.ttest_rel(a, b)
    assert d.df == 3 and d.interval() == pytest.approx(tuple(ref.confidence_interval(0.95)))
    assert d.pvalue() == pytest.approx(ref.pvalue)


def test_pooled_spread_by_hand_and_zero_spreads_count_as_data():
    # [1, 3]: variance 2 with 1 df; [5, 5]: 0 with 1 df; [9]: no spread. Pooled: (2 + 0) / 2 = 1, 2 df
    sd, df = st.pooled_spread([[1.0, 3.0], [5.0, 5.0], [9.0]])
    assert (sd, df) == (pytest.approx(1.0), 2)
    assert st.pooled_spread([[1.0], [2.0]]) is None


def test_from_spreads_with_a_pooled_spread_uses_its_df():
    pooled = st.Spread(1.0, 10)
    d = st.from_spreads(80.0, pooled, 2, 79.7, pooled, 2)
    # se = sqrt(1/2 + 1/2) = 1; Satterthwaite: (0.5 + 0.5)² / (0.25/10 + 0.25/10) = 20
    assert d.diff == pytest.approx(0.3) and d.se == pytest.approx(1.0) and d.df == pytest.approx(20.0)
    assert d.half_width() == pytest.approx(stats.t.ppf(0.975, 20))


def test_nadeau_bengio_by_hand():
    # 5 folds, differences 1..5: mean 3, s² 2.5; corrected variance (1/5 + 1/4) 2.5 = 1.125, df 4
    d = st.corrected_resampled_t([1.0, 2.0, 3.0, 4.0, 5.0], 1 / 4)
    assert (d.diff, d.se, d.df) == (pytest.approx(3.0), pytest.approx(math.sqrt(1.125)), 4)
    plain = st.paired_t([1.0, 2.0, 3.0, 4.0, 5.0], [0.0] * 5)
    assert d.se > plain.se  # the plain paired t (se sqrt(2.5/5)) is too optimistic
    assert d.pvalue() == pytest.approx(2 * stats.t.sf(3.0 / math.sqrt(1.125), 4))


# --- "no difference": TOST ---------------------------------------------------------------------------------------


def test_tost_matches_statsmodels():
    from statsmodels.stats.weightstats import ttost_ind, ttost_paired

    a, b = [70.1, 70.3, 70.2, 70.0], [70.0, 70.4, 70.1, 69.9]
    p_ind = ttost_ind(np.array(a), np.array(b), -1, 1, usevar="unequal")[0]
    assert st.tost(st.welch(a, b), 1.0).pvalue == pytest.approx(p_ind)
    assert st.tost_samples(a, b, 1.0).pvalue == pytest.approx(p_ind)
    p_rel = ttost_paired(np.array(a), np.array(b), -1, 1)[0]
    assert st.tost(st.paired_t(a, b), 1.0).pvalue == pytest.approx(p_rel)
    assert st.tost_samples(a, b, 1.0, paired=True).pvalue == pytest.approx(p_rel)


def test_tost_verdicts():
    tight = st.tost(st.TDifference(0.2, 0.1, 10), 1.0)  # 90 % interval 0.2 ± 0.18: inside ±1
    assert tight.verdict == st.EQUIVALENT and -1 < tight.low < tight.high < 1
    apart = st.tost(st.TDifference(3.0, 0.1, 10), 1.0)  # narrow, and far outside: a real difference
    assert apart.verdict == st.NOT_EQUIVALENT and not apart.underpowered
    wide = st.tost(st.TDifference(0.0, 2.0, 2), 1.0)  # interval ± 5.8: it cannot fit in ±1 whatever the data
    assert wide.verdict == st.UNDERPOWERED and wide.underpowered
    far = st.tost(st.TDifference(14.0, 0.6, 4), 1.0)  # wider than the margin, but wholly beyond it: a difference
    assert far.underpowered and far.verdict == st.NOT_EQUIVALENT


def test_holm_matches_statsmodels_and_by_hand():
    # sorted 0.01, 0.03, 0.04: 3 x 0.01 = 0.03, 2 x 0.03 = 0.06, max(0.06, 1 x 0.04) = 0.06
    assert st.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    out = st.holm([0.2, math.nan, 0.01])
    assert out[0] == pytest.approx(0.2) and math.isnan(out[1]) and out[2] == pytest.approx(0.02)


# --- the per-image predictions these tests read ------------------------------------------------------------------


def test_predictions_round_trip_and_alignment(tmp_path):
    from mldrnet.training.predictions import Predictions, aligned

    logits = np.array([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]])
    a = Predictions.from_logits(["x/1.jpg", "x/caf\udce9.jpg", "x/3.jpg"], [0, 0, 0], logits, ("neg", "pos"), model="a")
    path = a.save(tmp_path / "a.npz")
    back = Predictions.load(path)
    assert back.paths == a.paths and back.meta == {"model": "a"} and back.classes == ("neg", "pos")
    assert np.allclose(back.probs.sum(1), 1.0) and list(back.right) == [True, False, True]
    b = Predictions(("x/3.jpg", "x/1.jpg"), np.array([0, 0]), np.array([[0.1, 0.9], [0.8, 0.2]], np.float32), a.classes)
    ra, rb, n = aligned(a, b)  # matched by path, not by position
    assert n == 2 and list(ra) == [True, True] and list(rb) == [True, False]
    assert not list(tmp_path.glob("*.tmp*"))  # written atomically


# --- bench compare: predictions per accuracy row, MldrNet against each model ---------------------------------


def test_compare_saves_each_accuracy_rows_predictions_and_pairs_mldrnet_with_each_model(tmp_path):
    from bench.cli.tables import paired_table
    from bench.compare import PREDICTIONS_DIR, CompareConfig, run_compare
    from bench.paired import compare_family
    from mldrnet.io.layout import checkpoint_path
    from mldrnet.training.predictions import Predictions
    from tests.helpers.compare_fakes import FAST, fake_hooks, write_checkpoint

    for m in ("mldrnet", "mldrnet-l2"):
        if not checkpoint_path(tmp_path, m, "synth").exists():
            write_checkpoint(tmp_path, m)
    cfg = CompareConfig(
        models=("mldrnet", "mldrnet-l2"),
        engines=("torch-cpu", "ort-cpu"),
        batch_sizes=(1,),
        threads=1,
        eval_batch_size=8,
        timing=FAST,
        calibration=FAST,
    )
    folder = tmp_path / "out" / PREDICTIONS_DIR
    run = run_compare(cfg, tmp_path, fake_hooks(noise=0.5), predictions_dir=folder)
    files = sorted(p.name for p in folder.glob("*.npz"))
    ok = sorted(f"{r.model}.{r.variant}.{r.precision}.npz" for r in run.records if r.accuracy_pct is not None)
    assert files == ok and len(files) == 4  # one per model x engine x precision accuracy row
    pred = Predictions.load(folder / "mldrnet.torch-cpu.fp32.npz")
    assert len(pred.paths) == 24 and pred.meta["reference"] and pred.meta["keyed_by"] == "position"
    assert 100 * pred.accuracy == pytest.approx(
        next(r.accuracy_pct for r in run.records if r.model == "mldrnet" and r.variant == "torch-cpu")
    )
    rows, used = compare_family(folder, ["mldrnet", "mldrnet-l2"])
    assert [(r.a, r.b, r.images) for r in rows] == [("mldrnet", "mldrnet-l2", 24)]
    assert "torch-cpu fp32" in used and 0 <= rows[0].p <= 1 and rows[0].p_holm == pytest.approx(rows[0].p)
    assert paired_table(rows, "t").row_count == 1
    assert compare_family(folder, ["mldrnet-l2"]) == ([], "")  # no MldrNet in the run: no table


def test_readable_paths_leave_out_what_the_loader_could_not_read():
    from mldrnet.training.predictions import readable_paths

    samples = [("a.jpg", 0), ("bad.jpg", 1), ("c.jpg", 2)]
    assert readable_paths(samples, {"bad.jpg": "not an image"}) == ["a.jpg", "c.jpg"]


def test_a_system_without_predictions_is_a_row_with_its_problem_and_valid_json():
    import json

    from bench.paired import family, row_cells
    from mldrnet.training.predictions import Predictions

    a = Predictions.from_logits(["1", "2"], [0, 1], [[1.0, 0.0], [0.0, 1.0]], ("x", "y"))
    rows = family(("MldrNet", a), [("AlexNet", None), ("VGG", a)])
    assert rows[0].problem == "no per-image predictions of AlexNet" and "no per-image" in row_cells(rows[0])[5]
    assert rows[1].p == pytest.approx(1.0) and rows[1].p_holm == pytest.approx(1.0)  # a family of the one tested
    json.dumps([r.to_dict() for r in rows], allow_nan=False)
