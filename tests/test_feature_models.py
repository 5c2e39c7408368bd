"""The paper's non-CNN baselines as zoo models: trained by `train_model` through their zoo hooks, saved in the
checkpoint without pickles, reloaded with identical predictions, run by the torch engine and compare, refused by
export; the MART methods on a binary dataset."""

from pathlib import Path

import numpy as np
import pytest
import torch

from mldrnet import models
from mldrnet.checkpoint import Checkpoint
from mldrnet.data import DataConfig
from mldrnet.data.evalset import for_checkpoint
from mldrnet.errors import BenchError
from mldrnet.models.handcrafted import FeatureCache, FeatureModel, split_features
from mldrnet.training.config import resolve
from mldrnet.training.loop import train_model
from tests.helpers.data_files import write_mart

TINY = dict(crop=40, batch_size=16, workers=0)


def tiny_synth() -> DataConfig:
    return DataConfig(dataset="synth", synth_n=96, synth_size=48, seed=0)  # the smallest set with val images


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("results")
    result = train_model(resolve("zhao", "quick", **TINY), tiny_synth(), root)
    assert result.ok and result.epochs == 0 and 0 <= result.test_acc <= 1
    return root


def test_zoo_lists_them_as_models_without_onnx():
    for name in ("machajdik", "zhao", "rao", "tsvm", "lmc", "nlmc", "lasso", "group-lasso"):
        entry = models.info(name)
        assert not entry.is_network and entry.formats == ("torch",) and name not in models.networks()
    assert models.info("zhao").paper_fi_accuracy == 46.52 and models.info("rao").paper_fi_accuracy == 51.67


def test_trained_checkpoint_round_trips_with_identical_predictions(trained):
    ckpt = Checkpoint.load(trained / "runs/synth/zhao/best.pt")
    model = models.load(ckpt)
    assert isinstance(model, FeatureModel) and model.clf is not None
    batch = next(iter(for_checkpoint(ckpt, "test", trained, batch_size=8).batches()))[0]
    again = models.load(Checkpoint.load(trained / "runs/synth/zhao/best.pt"))
    with torch.inference_mode():
        assert torch.equal(model(batch), again(batch))
    assert model(batch).shape == (len(batch), 8)


def test_features_are_cached_by_file_content(trained, tmp_path):
    from mldrnet.data import prepare_data
    from mldrnet.data.transforms import Preprocessing

    data = prepare_data(tiny_synth(), trained)
    model, prep = FeatureModel(method="zhao"), Preprocessing(crop=40)
    cache = FeatureCache(trained, model.spec, prep)
    assert any(cache.dir.rglob("*.npy"))  # written by the training run
    x, y = split_features(model.spec, prep, data.train[:6], cache, workers=1)
    fresh = FeatureCache(tmp_path, model.spec, prep)
    x2, y2 = split_features(model.spec, prep, data.train[:6], fresh, workers=1)
    np.testing.assert_allclose(x, x2) and np.testing.assert_array_equal(y, y2)


def test_a_classifier_saved_for_another_model_is_refused(trained):
    ckpt = Checkpoint.load(trained / "runs/synth/zhao/best.pt")
    wrong = Checkpoint(**{**ckpt.__dict__, "model": "machajdik"})
    with pytest.raises(BenchError, match="saved classifier is for"):
        models.load(wrong)


def test_untrusted_types_in_a_saved_svm_are_refused(trained):
    import skops.io as sio

    ckpt = Checkpoint.load(trained / "runs/synth/zhao/best.pt")
    state = dict(ckpt.state_dict)
    extra = dict(state["_extra_state"])
    extra["arrays"] = {"skops": torch.from_numpy(np.frombuffer(sio.dumps(_Evil()), dtype=np.uint8).copy())}
    state["_extra_state"] = extra
    with pytest.raises(BenchError, match="does not load"):
        models.load(Checkpoint(**{**ckpt.__dict__, "state_dict": state}))


class _Evil:
    """A type skops does not trust: loading must refuse it instead of rebuilding it."""


def test_torch_engine_and_compare_run_it_and_export_refuses_it(trained):
    from bench.compare import CompareConfig, run_compare
    from bench.timing import TimingConfig
    from engines.export import export_onnx

    fast = TimingConfig(warmup_iters=1, warmup_s=0.0, min_iters=2, budget_s=0.0)
    run = run_compare(
        CompareConfig(models=("zhao",), batch_sizes=(1,), max_test_images=4, threads=1, timing=fast), trained
    )
    rows = {r.variant: r for r in run.records}
    assert rows["torch-cpu"].ok and rows["torch-cpu"].accuracy_pct is not None and rows["torch-cpu"].gflops is None
    assert not rows["ort-cpu"].ok and "not applicable" in rows["ort-cpu"].error
    with pytest.raises(BenchError, match="no ONNX form"):
        export_onnx(trained / "runs/synth/zhao/best.pt")


def test_mart_method_trains_on_a_binary_dataset_and_refuses_eight_classes(tmp_path):
    root, _ = write_mart(tmp_path / "mart")
    data = DataConfig(dataset="mart", data_root=str(root))
    result = train_model(resolve("lasso", "quick", **TINY), data, tmp_path / "results")
    assert result.ok and result.best_val_acc >= 0.5  # two colours: the colour features separate them
    with pytest.raises(BenchError, match="two-class method"):
        train_model(resolve("lasso", "quick", **TINY), tiny_synth(), tmp_path / "results")


def test_bench_features_prints_named_groups_and_names_a_bad_file(tmp_path):
    import json

    from typer.testing import CliRunner

    from bench.cli.features import METHODS
    from mldrnet.baselines.features import METHODS as LIBRARY_METHODS
    from mldrnet.baselines.features import method
    from tests.helpers.compare_fakes import cli_app
    from tests.helpers.data_files import jpg

    assert METHODS == tuple(LIBRARY_METHODS)  # the CLI spells them out to stay light
    image, bad = jpg(tmp_path / "a.jpg"), tmp_path / "b.jpg"
    bad.write_bytes(b"not an image")
    result = CliRunner().invoke(cli_app(), ["features", "zhao", str(image), str(bad), "--json"])
    assert result.exit_code == 1
    printed = json.loads(result.stdout)
    groups = printed["images"][str(image)]
    assert list(groups) == list(method("zhao").GROUPS)
    assert all(len(v) == method("zhao").GROUPS[g] for g, v in groups.items())
    assert str(bad) in result.stderr and str(bad) not in printed["images"]


def _mart_features(classifier: str, n: int = 40, seed: int = 0):
    """Random features of the size the model expects, two classes, and unlabelled test rows."""
    from mldrnet.baselines.features import method

    rng = np.random.default_rng(seed)
    if classifier == "mil":
        dim = method("rao").N_BLOCKS * sum(method("rao").GROUPS[g] for g in ("bovw_max", "color_max", "lbp_max"))
    else:
        dim = sum(method("machajdik").GROUPS[g] for g in ("colour", "composition"))
    x, xu = rng.normal(size=(n, dim)), rng.normal(size=(n // 2, dim))
    y = (x[:, 0] > 0).astype(int)
    return x, y, xu


def _feature_model(classifier: str) -> FeatureModel:
    if classifier == "mil":
        return FeatureModel(8, "rao", None, "mil")
    return FeatureModel(2, "machajdik", ["colour", "composition"], classifier)


@pytest.mark.parametrize("classifier", ["mil", "tsvm", "lmc", "nlmc", "lasso", "group-lasso"])
def test_every_classifier_round_trips_through_a_weights_only_state_dict(classifier, tmp_path):
    x, y, xu = _mart_features(classifier)
    model = _feature_model(classifier)
    model.fit_features(x, y, xu, seed=0)
    torch.save(model.state_dict(), tmp_path / "state.pt")
    state = torch.load(tmp_path / "state.pt", weights_only=True)
    extra = state["_extra_state"]
    assert set(extra) == {"arrays", "meta", "spec"} and list(extra["arrays"]) == ["skops"]
    again = _feature_model(classifier)
    again.load_state_dict(state)
    np.testing.assert_array_equal(again.scores(xu), model.scores(xu))
    assert (model.scores(xu).argmax(1) < 2).all()


def _refused(state: dict, match: str) -> str:
    with pytest.raises(BenchError, match=match) as err:
        _feature_model("lasso").set_extra_state(state)
    message = str(err.value)
    assert "\n" not in message and "retrain the model" in message
    return message


def test_a_bad_saved_classifier_is_refused_in_one_line():
    import skops.io as sio

    from mldrnet.baselines.classical import make

    x, y, xu = _mart_features("lasso")
    model = _feature_model("lasso")
    model.fit_features(x, y, xu)
    good = model.get_extra_state()

    def with_blob(data: bytes, meta: str = '{"kind": "skops"}') -> dict:
        return {**good, "meta": meta, "arrays": {"skops": torch.from_numpy(np.frombuffer(data, np.uint8).copy())}}

    _refused(with_blob(b""), "does not load: it is empty")
    _refused(with_blob(b"garbage, not a skops zip"), "does not load: it is not a readable skops file")
    _refused(with_blob(sio.dumps(make("lasso"))), "does not load: This LassoClassifier instance is not fitted")
    tsvm = make("tsvm").fit(np.vstack([x, xu]), np.r_[y, np.full(len(xu), -1)])
    _refused(
        with_blob(sio.dumps(tsvm)),
        "does not load: it holds a Pipeline of StandardScaler \\+ TransductiveSVM, not a LassoClassifier",
    )
    _refused({**good, "meta": '{"class": "LassoClassifier", "params": {}}'}, "format bench no longer reads")


def test_an_unfitted_classifier_is_not_saved():
    from mldrnet.baselines.classical import make
    from mldrnet.models.handcrafted import save_classifier

    with pytest.raises(BenchError, match="cannot be saved: .*not fitted.*; train the model first"):
        save_classifier(_feature_model("lasso").spec, make("lasso"))


def test_a_fitting_problem_of_the_estimator_is_a_one_line_bench_error():
    x, _, xu = _mart_features("lmc")
    model = _feature_model("lmc")
    with pytest.raises(BenchError, match="lmc could not be fitted on the 3 machajdik feature rows: rank must") as err:
        model.fit_features(x[:3], np.array([0, 1, 0]), xu[:0], seed=0)  # rank 3 needs 4 samples
    assert "\n" not in str(err.value)
