"""The MART baselines of mldrnet.baselines.classical (TSVM, LMC/NLMC, Lasso, Group Lasso) and Rao's Codebook and
MaxPoolMIL: on synthetic problems, through scikit-learn's estimator checks, and saved with skops."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils.estimator_checks import parametrize_with_checks

from mldrnet.baselines.classical import (
    METHODS,
    TRANSDUCTIVE,
    Codebook,
    LassoClassifier,
    MatrixCompletion,
    MaxPoolMIL,
    SparseGroupLasso,
    TransductiveSVM,
    make,
    saving,
)
from mldrnet.baselines.classical.group_lasso import sparse_group_prox
from mldrnet.baselines.classical.matrix_completion import _euclidean_gradient, _objective, _retract


def semi_supervised(xl, yl, xu):
    """scikit-learn's semi-supervised layout: the labelled rows, then the unlabelled ones labelled -1."""
    y = np.empty(len(xl) + len(xu), dtype=object if np.asarray(yl).dtype.kind in "OUS" else np.asarray(yl).dtype)
    y[: len(xl)], y[len(xl) :] = yl, -1
    return np.vstack([xl, xu]), y


def low_rank_problem(seed, n=200, d=20, labelled=0.3):
    """Features from a rank-3 latent factor plus small noise; labels the sign of a linear function of it."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 3))
    x = z @ rng.normal(size=(3, d)) + 0.1 * rng.normal(size=(n, d))
    y = (z @ rng.normal(size=3) > 0).astype(int)
    order = rng.permutation(n)
    lab, unl = order[: int(labelled * n)], order[int(labelled * n) :]
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

    def label(v):
        return np.where((v - x.mean(0)) / x.std(0) @ w + 0.3 * rng.normal(size=len(v)) > 0, "pos", "neg")

    groups = [list(range(g * size, (g + 1) * size)) for g in range(n_groups)]
    return x, label(x), x_test, label(x_test), groups


# -- matrix completion ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kernel", ["linear", "rbf"])
def test_matrix_completion_recovers_labels_of_a_low_rank_problem(kernel):
    accs = []
    for seed in range(3):
        xl, yl, xu, yu = low_rank_problem(seed)
        model = MatrixCompletion(kernel=kernel, rank=3).fit(*semi_supervised(xl, yl, xu))
        accs.append(np.mean(model.predict(xu) == yu))
        np.testing.assert_array_equal(model.transduction_, np.r_[yl, model.predict(xu)])
    assert np.mean(accs) > 0.9, accs
    assert min(accs) > 0.85, accs


def test_matrix_completion_surplus_rank_does_not_collapse():
    # rank 6 on rank-3 data: without the feature-norm penalty mu the spare slots fit the labelled entries only
    xl, yl, xu, yu = low_rank_problem(0)
    assert np.mean(MatrixCompletion(kernel="linear", rank=6).fit(*semi_supervised(xl, yl, xu)).predict(xu) == yu) > 0.9


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
    model = MatrixCompletion(kernel="linear", rank=3).fit(*semi_supervised(xl, yl, xu))
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
        model = make("tsvm").fit(*semi_supervised(xl, yl, xu))  # StandardScaler on all rows, then the TSVM
        tsvm = model[-1]
        assert tsvm.converged_ and tsvm.n_switches_ > 0
        tsvm_acc.append(np.mean(model.predict(xu) == yu))
        np.testing.assert_array_equal(tsvm.transduction_[: len(yl)], yl)
        assert np.mean(tsvm.transduction_[len(yl) :] == yu) > 0.9
        scaler = StandardScaler().fit(np.vstack([xl, xu]))  # same standardisation, kernel, gamma and C
        svc = SVC(C=1.0, kernel="rbf", gamma=0.5).fit(scaler.transform(xl), yl)
        svc_acc.append(np.mean(svc.predict(scaler.transform(xu)) == yu))
    assert set(np.unique(model.predict(xu))) <= {3, 7}
    assert np.mean(tsvm_acc) > 0.95, tsvm_acc
    assert np.mean(tsvm_acc) > np.mean(svc_acc) + 0.2, (tsvm_acc, svc_acc)


def test_tsvm_keeps_the_labelled_positive_fraction():
    xl, yl, xu, yu = two_clusters(0)
    model = make("tsvm", positive_fraction=0.25).fit(*semi_supervised(xl, yl, xu))
    assigned = model[-1].transduction_[len(yl) :]
    assert np.sum(assigned == 7) == round(0.25 * len(xu))  # switches swap pairs: count is kept


def test_tsvm_unlabelled_rows_may_be_anywhere_and_labels_be_strings():
    xl, yl, xu, _ = two_clusters(1)
    x, y = semi_supervised(xl, np.where(yl == 7, "pos", "neg"), xu)
    order = np.random.default_rng(0).permutation(len(x))
    shuffled = make("tsvm").fit(x[order], y[order])
    ordered = make("tsvm").fit(x, y)
    np.testing.assert_array_equal(shuffled[-1].transduction_, ordered[-1].transduction_[order])
    assert list(shuffled.classes_) == ["neg", "pos"] and set(shuffled.predict(xu)) <= {"neg", "pos"}
    with pytest.raises(ValueError, match="Only binary classification"):
        TransductiveSVM().fit(xl, np.full(len(xl), -1))  # nothing labelled


# -- lasso and group lasso --------------------------------------------------------------------------------------
@pytest.mark.parametrize("l1_ratio", [0.0, 0.5])
@pytest.mark.parametrize("seed", [0, 3])
def test_group_lasso_zeroes_whole_irrelevant_groups(l1_ratio, seed):
    x, y, x_test, y_test, groups = grouped_problem(seed)
    model = make("group-lasso", alpha=0.1, l1_ratio=l1_ratio, groups=groups).fit(x, y)
    lasso = model[-1]
    assert lasso.converged_
    np.testing.assert_array_equal(lasso.nonzero_groups(), [0, 1])
    assert np.all(lasso.coef_[10:] == 0.0)  # exactly zero, not small
    if l1_ratio == 0.0:
        assert np.all(lasso.coef_[:10] != 0.0)  # plain group lasso does not sparsify inside a group
    assert np.mean(model.predict(x_test) == y_test) > 0.85


def test_sparse_group_lasso_with_l1_only_is_sklearns_lasso():
    x, y, _, _, groups = grouped_problem(1)
    ours = make("group-lasso", alpha=0.05, l1_ratio=1.0, groups=groups, tol=1e-10, max_iter=20000).fit(x, y)[-1]
    ref = make("lasso", alpha=0.05, tol=1e-10, max_iter=100000).fit(x, y)[-1]
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-7)
    assert ours.intercept_ == pytest.approx(ref.intercept_)
    assert np.any(ref.coef_ == 0.0) and np.any(ref.coef_ != 0.0)


def test_sparse_group_lasso_centres_unscaled_features_itself():
    x, y, x_test, _, groups = grouped_problem(2, n=120)
    alone = SparseGroupLasso(alpha=0.0, groups=groups, tol=1e-12, max_iter=50000).fit(x, y)
    scaled = make("group-lasso", alpha=0.0, groups=groups, tol=1e-12, max_iter=50000).fit(x, y)
    # no penalty: least squares, which standardising does not change
    np.testing.assert_allclose(alone.decision_function(x_test), scaled.decision_function(x_test), atol=1e-6)


def test_sparse_group_prox_is_soft_threshold_then_group_shrinkage():
    w = np.array([3.0, -1.0, 0.5, 4.0, 0.0])
    out = sparse_group_prox(w, np.array([0, 0, 0, 1, 1]), l1=1.0, l2=np.array([1.0, 5.0]))
    # group 0: soft-threshold -> (2, 0, 0), norm 2, shrink by 1 - 1/2; group 1: (3, 0), norm 3 < 5 -> zero
    np.testing.assert_allclose(out, [1.0, 0.0, 0.0, 0.0, 0.0])


def test_group_lasso_rejects_overlapping_groups():
    x, y, _, _, _ = grouped_problem(0, n=20)
    with pytest.raises(ValueError, match="overlaps"):
        SparseGroupLasso(groups=[[0, 1], [1, 2]]).fit(x, y)


# -- registry -----------------------------------------------------------------------------------------------------
def test_registry_builds_each_method():
    assert set(METHODS) == {"tsvm", "lmc", "nlmc", "lasso", "group-lasso"}
    assert TRANSDUCTIVE == {"tsvm", "lmc", "nlmc"}
    tsvm = make("tsvm", C=2.0)
    assert type(tsvm[0]) is StandardScaler and isinstance(tsvm[-1], TransductiveSVM) and tsvm[-1].C == 2.0
    assert make("lmc").kernel == "linear" and make("nlmc", rank=4).kernel == "rbf"
    assert make("nlmc", rank=4).rank == 4 and isinstance(make("nlmc"), MatrixCompletion)  # standardises per solve
    assert isinstance(make("lasso")[-1], LassoClassifier)
    assert make("group-lasso", groups=[[0, 1]])[-1].groups == [[0, 1]]
    assert clone(make("group-lasso", groups=[[0, 1]])).get_params()["model__groups"] == [[0, 1]]
    with pytest.raises(ValueError, match="unknown classical method"):
        make("svm")


# -- scikit-learn's estimator checks ------------------------------------------------------------------------------
SEMI_SUPERVISED_CLASSES = (
    "uses -1 as a class label, which scikit-learn's semi-supervised convention (ours: fit(X, y), y = -1 on the "
    "unlabelled rows) reserves for unlabelled rows; scikit-learn exempts its own LabelSpreading and "
    "SelfTrainingClassifier from it by name"
)
RE_SOLVED = (
    "transductive by design: decision_function on points other than the fitted unlabelled rows re-solves the "
    "completion with those points as the unlabelled set, so a point's value depends on the points scored with it"
)


def _expected_failures(estimator):
    if isinstance(estimator, TransductiveSVM):
        return {"check_classifiers_classes": SEMI_SUPERVISED_CLASSES}
    if isinstance(estimator, MatrixCompletion):
        return {"check_classifiers_classes": SEMI_SUPERVISED_CLASSES, "check_methods_subset_invariance": RE_SOLVED}
    return {}


# Codebook: n_clusters=3, since the checks fit on as few as 10-20 points (check_clustering sets 3 itself);
# MaxPoolMIL: the checks' X has any number of features, so one instance per bag (a bag-size test is below)
@parametrize_with_checks(
    [
        TransductiveSVM(),
        MatrixCompletion(kernel="linear"),
        MatrixCompletion(kernel="rbf"),
        LassoClassifier(),
        SparseGroupLasso(),
        MaxPoolMIL(),
        Codebook(n_clusters=3),
    ],
    expected_failed_checks=_expected_failures,
    xfail_strict=True,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_binary_estimators_are_tagged_binary_only():
    from sklearn.utils import get_tags

    for est in (TransductiveSVM(), MatrixCompletion(), LassoClassifier(), SparseGroupLasso()):
        assert not get_tags(est).classifier_tags.multi_class
    assert get_tags(MaxPoolMIL()).classifier_tags.multi_class


# -- saving with skops ------------------------------------------------------------------------------------------
def _fitted(name):
    if name in ("lasso", "group-lasso"):
        x, y, x_test, _, groups = grouped_problem(2, n=120)
        return make(name, **({"groups": groups} if name == "group-lasso" else {})).fit(x, y), x_test, x_test
    xl, yl, x_test, _ = low_rank_problem(2, n=120)
    model = make(name).fit(*semi_supervised(xl, np.where(yl == 1, "positive", "negative"), x_test))
    return model, x_test, x_test[:30] + 0.01  # new points: TSVM predicts inductively, matrix completion re-solves


def _final_type(model):
    return type(model[-1] if hasattr(model, "steps") else model)


@pytest.mark.parametrize("name", ["tsvm", "lmc", "nlmc", "lasso", "group-lasso"])
def test_every_method_round_trips_through_skops(name):
    model, x_test, new = _fitted(name)
    data = saving.dumps(model)
    loaded = saving.loads(data, _final_type(model), saving.trusted_types())
    assert type(loaded) is type(model) and _final_type(loaded) is _final_type(model)
    for x_eval in (x_test, new):
        np.testing.assert_array_equal(loaded.predict(x_eval), model.predict(x_eval))
        np.testing.assert_array_equal(loaded.decision_function(x_eval), model.decision_function(x_eval))
    assert len(set(loaded.predict(x_test))) == 2
    wrong = MatrixCompletion if name == "tsvm" else TransductiveSVM
    with pytest.raises(ValueError, match=f"not a {wrong.__name__}"):
        saving.loads(data, wrong, saving.trusted_types())


def test_skops_loading_refuses_garbage_empty_unfitted_and_untrusted():
    trusted = saving.trusted_types()
    assert "mldrnet.baselines.classical.tsvm.TransductiveSVM" in trusted
    assert "sklearn.pipeline.Pipeline" in trusted and "numpy.ndarray" in trusted
    with pytest.raises(ValueError, match="empty"):
        saving.loads(b"", TransductiveSVM, trusted)
    with pytest.raises(ValueError, match="not a readable skops file"):
        saving.loads(b"not a zip archive", TransductiveSVM, trusted)
    with pytest.raises(NotFittedError):
        saving.dumps(make("tsvm"))
    import skops.io as sio

    with pytest.raises(NotFittedError):  # a NotFittedError is a ValueError: the caller words it for the user
        saving.loads(sio.dumps(make("tsvm")), TransductiveSVM, trusted)
    model, _, _ = _fitted("lasso")
    data = saving.dumps(model)
    with pytest.raises(ValueError, match="not trusted: mldrnet.baselines.classical.group_lasso.LassoClassifier"):
        saving.loads(data, LassoClassifier, ["sklearn.pipeline.Pipeline"])


# -- Rao's codebook and multiple-instance classifier -------------------------------------------------------------
def test_codebook_assigns_the_nearest_codeword():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 8)).astype(np.float32)
    book = Codebook(n_clusters=5, random_state=1).fit(x)
    centres = book.cluster_centers_.astype(np.float64)
    by_hand = np.argmin(((x[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(book.predict(x), by_hand)
    np.testing.assert_array_equal(book.labels_, by_hand)
    assert book.encode(x).sum() == pytest.approx(1.0) and book.encode(x[:0]).sum() == 0.0
    with pytest.raises(ValueError, match="cannot make 5 words"):
        Codebook(n_clusters=5).fit(np.repeat(x[:3], 10, axis=0))


def test_mil_finds_the_witness_instance():
    rng = np.random.default_rng(0)
    bags = rng.normal(size=(200, 7, 4))
    y = rng.integers(0, 2, 200)
    bags[y == 1, rng.integers(0, 7, (y == 1).sum()), 2] += 5.0  # one witness per positive bag
    model = MaxPoolMIL(n_instances=7).fit(bags.reshape(200, -1), y)
    assert model.coef_.shape == (1, 4) and np.argmax(np.abs(model.coef_[0])) == 2
    scores = model.decision_function(bags.reshape(200, -1))
    assert scores.shape == (200,) and np.mean((scores > 0) == (y == 1)) > 0.9
    per_instance = model.instance_scores(bags.reshape(-1, 4)).reshape(200, 7)
    np.testing.assert_allclose(per_instance.max(axis=1), scores)
    with pytest.raises(ValueError, match="not a multiple of n_instances=7"):
        MaxPoolMIL(n_instances=7).fit(bags.reshape(200, -1)[:, :-1], y)
