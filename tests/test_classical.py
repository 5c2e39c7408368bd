"""The MART baselines of mldrnet.baselines.classical (TSVM, LMC/NLMC, Lasso, Group Lasso) on synthetic problems."""

import json

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from mldrnet.baselines.classical import (METHODS, LassoClassifier, MatrixCompletion, SparseGroupLasso, TransductiveSVM,
                               from_arrays, make)
from mldrnet.baselines.classical.group_lasso import sparse_group_prox
from mldrnet.baselines.classical.matrix_completion import _euclidean_gradient, _objective, _retract
from mldrnet.errors import BenchError


def low_rank_problem(seed, n=200, d=20, labelled=0.3):
    """Features from a rank-3 latent factor plus small noise; labels the sign of a linear function of it."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 3))
    x = z @ rng.normal(size=(3, d)) + 0.1 * rng.normal(size=(n, d))
    y = (z @ rng.normal(size=3) > 0).astype(int)
    order = rng.permutation(n)
    lab, unl = order[: int(labelled * n)], order[int(labelled * n):]
    return x[lab], y[lab], x[unl], y[unl]


def two_clusters(seed, n=100):
    """Two tall clusters separated along x; the 2 + 2 labels sit at opposite ends, tilting an inductive SVM."""
    rng = np.random.default_rng(seed)
    a = np.column_stack([rng.normal(-2.0, 0.5, n), rng.normal(0.0, 3.0, n)])
    b = np.column_stack([rng.normal(2.0, 0.5, n), rng.normal(0.0, 3.0, n)])
    x, y = np.vstack([a, b]), np.r_[np.full(n, 3), np.full(n, 7)]  # any two class labels
    lab = np.r_[np.argsort(-a[:, 1])[:2], n + np.argsort(b[:, 1])[:2]]
    unl = np.setdiff1d(np.arange(2 * n), lab)
    return x[lab], y[lab], x[unl], y[unl]


def grouped_problem(seed, n=300, n_groups=6, size=5):
    """Six groups of 5 features with different scales; only groups 0 and 1 carry the label."""
    rng = np.random.default_rng(seed)
    d = n_groups * size
    x = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, size=d) + rng.normal(size=d)
    w = np.zeros(d)
    w[: 2 * size] = np.random.default_rng(1000 + seed).normal(size=2 * size)
    x_test = rng.normal(size=(n, d)) * x.std(0) + x.mean(0)
    label = lambda v: np.where((v - x.mean(0)) / x.std(0) @ w + 0.3 * rng.normal(size=len(v)) > 0, "pos", "neg")
    groups = [list(range(g * size, (g + 1) * size)) for g in range(n_groups)]
    return x, label(x), x_test, label(x_test), groups


# -- matrix completion ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kernel", ["linear", "rbf"])
def test_matrix_completion_recovers_labels_of_a_low_rank_problem(kernel):
    accs = []
    for seed in range(3):
        xl, yl, xu, yu = low_rank_problem(seed)
        model = MatrixCompletion(kernel=kernel, rank=3).fit(xl, yl, xu)
        accs.append(np.mean(model.predict(xu) == yu))
    assert np.mean(accs) > 0.9, accs
    assert min(accs) > 0.85, accs


def test_matrix_completion_surplus_rank_does_not_collapse():
    # rank 6 on rank-3 data: without the feature-norm penalty mu the spare slots fit the labelled entries only
    xl, yl, xu, yu = low_rank_problem(0)
    assert np.mean(MatrixCompletion(kernel="linear", rank=6).fit(xl, yl, xu).predict(xu) == yu) > 0.9


def test_matrix_completion_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    n, n_l, r, lam, mu = 30, 12, 3, 0.7, 0.9
    x = rng.normal(size=(n, 5))
    k = x @ x.T * (n / np.trace(x @ x.T))
    y = np.where(rng.normal(size=n_l) > 0, 1.0, -1.0)
    q = _retract(rng.normal(size=(n, r)))
    _, a, _, e, u, kq = _objective(q, k, y, lam, mu)
    grad = _euclidean_gradient(a, e, u, kq, lam, mu)
    h, numeric = 1e-6, np.zeros_like(q)
    for i in range(n):
        for j in range(r):
            d = np.zeros_like(q)
            d[i, j] = h
            numeric[i, j] = (_objective(q + d, k, y, lam, mu)[0] - _objective(q - d, k, y, lam, mu)[0]) / (2 * h)
    np.testing.assert_allclose(grad, numeric, atol=1e-6 * np.abs(grad).max())
    assert np.allclose(q.T @ q, np.eye(r))


def test_matrix_completion_predicts_new_points_by_re_solving():
    xl, yl, xu, yu = low_rank_problem(1)
    model = MatrixCompletion(kernel="linear", rank=3).fit(xl, yl, xu)
    fitted = model.decision_function(xu).copy()
    perm = np.random.default_rng(0).permutation(len(xu))
    resolved = model.predict(xu[perm])  # not the fitted set: completed again with xu[perm] as unlabelled
    assert np.mean(resolved == model.predict(xu)[perm]) > 0.97
    np.testing.assert_array_equal(model.decision_function(xu), fitted)  # fitted state untouched


# -- transductive SVM -------------------------------------------------------------------------------------------
def test_tsvm_beats_an_inductive_svm_on_the_same_labels():
    tsvm_acc, svc_acc = [], []
    for seed in range(4):
        xl, yl, xu, yu = two_clusters(seed)
        model = TransductiveSVM().fit(xl, yl, xu)
        assert model.converged_ and model.n_switches_ > 0
        tsvm_acc.append(np.mean(model.predict(xu) == yu))
        assert np.mean(model.transduction_ == yu) > 0.9
        scaler = StandardScaler().fit(np.vstack([xl, xu]))  # same standardisation, kernel, gamma and C
        svc = SVC(C=1.0, kernel="rbf", gamma=0.5).fit(scaler.transform(xl), yl)
        svc_acc.append(np.mean(svc.predict(scaler.transform(xu)) == yu))
    assert set(np.unique(model.predict(xu))) <= {3, 7}
    assert np.mean(tsvm_acc) > 0.95, tsvm_acc
    assert np.mean(tsvm_acc) > np.mean(svc_acc) + 0.2, (tsvm_acc, svc_acc)


def test_tsvm_keeps_the_labelled_positive_fraction():
    xl, yl, xu, yu = two_clusters(0)
    model = TransductiveSVM(positive_fraction=0.25).fit(xl, yl, xu)
    assert np.sum(model.transduction_ == 7) == round(0.25 * len(xu))  # switches swap pairs: count is kept


# -- lasso and group lasso --------------------------------------------------------------------------------------
@pytest.mark.parametrize("l1_ratio", [0.0, 0.5])
@pytest.mark.parametrize("seed", [0, 3])
def test_group_lasso_zeroes_whole_irrelevant_groups(l1_ratio, seed):
    x, y, x_test, y_test, groups = grouped_problem(seed)
    model = SparseGroupLasso(alpha=0.1, l1_ratio=l1_ratio, groups=groups).fit(x, y)
    assert model.converged_
    np.testing.assert_array_equal(model.nonzero_groups(), [0, 1])
    assert np.all(model.coef_[10:] == 0.0)  # exactly zero, not small
    if l1_ratio == 0.0:
        assert np.all(model.coef_[:10] != 0.0)  # plain group lasso does not sparsify inside a group
    assert np.mean(model.predict(x_test) == y_test) > 0.85


def test_sparse_group_lasso_with_l1_only_is_sklearns_lasso():
    x, y, _, _, groups = grouped_problem(1)
    ours = SparseGroupLasso(alpha=0.05, l1_ratio=1.0, groups=groups, tol=1e-10, max_iter=20000).fit(x, y)
    ref = LassoClassifier(alpha=0.05, tol=1e-10, max_iter=100000).fit(x, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-7)
    assert ours.intercept_ == pytest.approx(ref.intercept_)
    assert np.any(ref.coef_ == 0.0) and np.any(ref.coef_ != 0.0)


def test_sparse_group_prox_is_soft_threshold_then_group_shrinkage():
    w = np.array([3.0, -1.0, 0.5, 4.0, 0.0])
    out = sparse_group_prox(w, np.array([0, 0, 0, 1, 1]), l1=1.0, l2=np.array([1.0, 5.0]))
    # group 0: soft-threshold -> (2, 0, 0), norm 2, shrink by 1 - 1/2; group 1: (3, 0), norm 3 < 5 -> zero
    np.testing.assert_allclose(out, [1.0, 0.0, 0.0, 0.0, 0.0])


def test_group_lasso_rejects_overlapping_groups():
    x, y, _, _, _ = grouped_problem(0, n=20)
    with pytest.raises(BenchError, match="overlaps"):
        SparseGroupLasso(groups=[[0, 1], [1, 2]]).fit(x, y)


# -- registry and storage ---------------------------------------------------------------------------------------
def test_registry_builds_each_method():
    assert set(METHODS) == {"tsvm", "lmc", "nlmc", "lasso", "group-lasso"}
    assert isinstance(make("tsvm", C=2.0), TransductiveSVM) and make("tsvm", C=2.0).C == 2.0
    assert make("lmc").kernel == "linear" and make("nlmc", rank=4).kernel == "rbf"
    assert make("nlmc", rank=4).rank == 4
    assert isinstance(make("lasso"), LassoClassifier)
    assert make("group-lasso", groups=[[0, 1]]).groups == [[0, 1]]
    with pytest.raises(BenchError, match="unknown classical method"):
        make("svm")


def _save_and_load(model, tmp_path):
    arrays, meta = model.to_arrays()
    np.savez(tmp_path / "model.npz", **arrays)
    (tmp_path / "model.json").write_text(json.dumps(meta))
    with np.load(tmp_path / "model.npz", allow_pickle=False) as data:
        loaded = {name: data[name] for name in data.files}
    return from_arrays(loaded, json.loads((tmp_path / "model.json").read_text()))


@pytest.mark.parametrize("name", ["tsvm", "lmc", "nlmc", "lasso", "group-lasso"])
def test_every_method_round_trips_through_arrays_and_json(name, tmp_path):
    if name in ("lasso", "group-lasso"):
        x, y, x_test, _, groups = grouped_problem(2, n=120)
        model = make(name, **({"groups": groups} if name == "group-lasso" else {})).fit(x, y)
        new = x_test
    else:
        xl, yl, x_test, _ = low_rank_problem(2, n=120)
        yl = np.where(yl == 1, "positive", "negative")
        model = make(name).fit(xl, yl, x_test)
        new = x_test[:30] + 0.01  # new points: TSVM predicts inductively, matrix completion re-solves
    loaded = _save_and_load(model, tmp_path)
    assert type(loaded) is type(model)
    for x_eval in (x_test, new):
        np.testing.assert_array_equal(loaded.predict(x_eval), model.predict(x_eval))
        np.testing.assert_array_equal(loaded.decision_function(x_eval), model.decision_function(x_eval))
    assert len(set(loaded.predict(x_test))) == 2
    wrong = MatrixCompletion if name == "tsvm" else TransductiveSVM
    with pytest.raises(BenchError, match="not a"):
        wrong.from_arrays(*model.to_arrays())
