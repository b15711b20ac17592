"""nnfast.sklearn: scikit-learn's estimator checks, accuracy against scikit-learn's own MLP,
labels, partial_fit, dtypes, pickling, model selection and parameter errors."""

import inspect
import io
import pickle
import warnings
from contextlib import redirect_stdout

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

import nnfast as nf  # noqa: E402
from nnfast._plan import compile_plan  # noqa: E402
import nnfast.sklearn  # noqa: E402
from nnfast.sklearn import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import (  # noqa: E402
    load_breast_cancer, load_digits, load_iris, make_multilabel_classification, make_regression,
)
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkMLPClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    """One thread (BLAS included): these networks are tiny, and on a shared 2-core machine
    two BLAS threads made a 30-epoch digits fit 70x slower (7.1 s vs 0.1 s, measured). The
    conftest fixture restores the thread count afterwards."""
    nf.set_num_threads(1)


def standardized(loader, seed=0):
    X, y = loader(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=seed, stratify=y)
    scaler = StandardScaler().fit(X_tr)
    return scaler.transform(X_tr), scaler.transform(X_te), y_tr, y_te


def quiet_fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


def blobs(n=120, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return X, (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)


# --- scikit-learn's own estimator checks ----------------------------------------------------
def _expected_failures(estimator):
    if estimator.get_params()["solver"] == "lbfgs":
        # trained to convergence on the check's tiny separable data, a sigmoid output rounds to
        # exactly 1.0 in float64 (as scipy.special.expit does above 36.7)
        return {"check_classifiers_multilabel_output_format_predict_proba":
                "a saturated sigmoid is exactly 1.0"}
    return {}


if "expected_failed_checks" in inspect.signature(parametrize_with_checks).parameters:
    _CHECKED = [MLPClassifier(), MLPRegressor(), MLPClassifier(solver="lbfgs"),
                MLPRegressor(solver="lbfgs")]
    _CHECKS_KW = {"expected_failed_checks": _expected_failures}
else:  # scikit-learn < 1.6: no way to mark the one expected failure of lbfgs
    _CHECKED, _CHECKS_KW = [MLPClassifier(), MLPRegressor()], {}


@parametrize_with_checks(_CHECKED, **_CHECKS_KW)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


# --- accuracy against scikit-learn's MLP ----------------------------------------------------
def test_digits_accuracy_matches_sklearn():
    X_tr, X_te, y_tr, y_te = standardized(load_digits)
    ours = MLPClassifier(random_state=0).fit(X_tr, y_tr)
    theirs = SkMLPClassifier(random_state=0).fit(X_tr, y_tr)
    acc, ref = ours.score(X_te, y_te), theirs.score(X_te, y_te)
    assert acc >= 0.95, acc
    assert acc >= ref - 0.02, (acc, ref)
    assert ours.n_iter_ < 200  # converged by the tol / n_iter_no_change rule
    assert ours.loss_curve_[-1] == ours.loss_ and len(ours.loss_curve_) == ours.n_iter_


def test_breast_cancer_accuracy_matches_sklearn():
    X_tr, X_te, y_tr, y_te = standardized(load_breast_cancer)
    ours = quiet_fit(MLPClassifier(random_state=0), X_tr, y_tr)
    theirs = quiet_fit(SkMLPClassifier(random_state=0), X_tr, y_tr)
    acc, ref = ours.score(X_te, y_te), theirs.score(X_te, y_te)
    assert acc >= 0.93, acc
    assert acc >= ref - 0.03, (acc, ref)


def test_alpha_is_scaled_as_sklearn():
    """Same data, same alpha: the kernels shrink as much as scikit-learn's and the reported
    loss (penalty included) agrees."""
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    for alpha in (1.0, 10.0):
        ours = quiet_fit(MLPClassifier(alpha=alpha, random_state=0, max_iter=300), X, y)
        theirs = quiet_fit(SkMLPClassifier(alpha=alpha, random_state=0, max_iter=300), X, y)
        norm = sum(float((w ** 2).sum()) for w in ours.coefs_)
        ref = sum(float((w ** 2).sum()) for w in theirs.coefs_)
        assert norm == pytest.approx(ref, rel=0.15), (alpha, norm, ref)
        assert ours.loss_ == pytest.approx(theirs.loss_, rel=0.15), (alpha, ours.loss_)
    small = quiet_fit(MLPClassifier(alpha=0.0, random_state=0, max_iter=300), X, y)
    assert sum(float((w ** 2).sum()) for w in small.coefs_) > 5 * norm


def test_regression_r2():
    X, y = make_regression(n_samples=400, n_features=8, noise=5.0, random_state=0)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y / y.std(), random_state=0)
    reg = make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(64,),
                                                       learning_rate_init=1e-2, random_state=0))
    quiet_fit(reg, X_tr, y_tr)
    assert reg.score(X_te, y_te) >= 0.97
    pred = reg.predict(X_te)
    assert pred.shape == (len(y_te),) and pred.dtype == np.float64
    assert reg[-1].out_activation_ == "identity" and reg[-1].n_outputs_ == 1


def test_regression_multi_output():
    X, Y = make_regression(n_samples=300, n_features=5, n_targets=3, noise=0.1, random_state=0)
    reg = quiet_fit(MLPRegressor(learning_rate_init=1e-2, max_iter=300, random_state=0),
                    StandardScaler().fit_transform(X), Y / Y.std())
    assert reg.n_outputs_ == 3 and reg.model_.output_dim == 3
    assert reg.predict(StandardScaler().fit_transform(X)).shape == (300, 3)
    assert reg.score(StandardScaler().fit_transform(X), Y / Y.std()) >= 0.95


# --- labels ---------------------------------------------------------------------------------
def test_string_labels_multiclass():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = quiet_fit(make_pipeline(StandardScaler(), MLPClassifier(random_state=0)), X, names)
    assert clf[-1].classes_.tolist() == ["setosa", "versicolor", "virginica"]
    pred = clf.predict(X)
    assert pred.dtype.kind == "U" and set(pred) <= set(names)
    assert clf.score(X, names) >= 0.9
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert (clf[-1].classes_[proba.argmax(axis=1)] == pred).all()


def test_binary_one_sigmoid_unit_and_two_probability_columns():
    X, y = blobs()
    labels = np.where(y == 1, "spam", "ham")
    clf = quiet_fit(MLPClassifier(hidden_layer_sizes=(16,), random_state=0), X, labels)
    assert clf.classes_.tolist() == ["ham", "spam"]
    assert clf.model_.output_dim == 1 and clf.out_activation_ == "logistic"
    assert clf.n_outputs_ == 1
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba[:, 1], clf.model_.predict(X)[:, 0])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (clf.predict(X) == clf.classes_[(proba[:, 1] > 0.5).astype(int)]).all()
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-12)
    assert clf.score(X, labels) >= 0.9


def test_multilabel_indicator_targets():
    X, Y = make_multilabel_classification(n_samples=200, n_classes=4, random_state=0)
    clf = quiet_fit(MLPClassifier(random_state=0), X, Y)
    assert clf.classes_.tolist() == [0, 1, 2, 3] and clf.out_activation_ == "logistic"
    pred, proba = clf.predict(X), clf.predict_proba(X)
    assert pred.shape == (200, 4) and set(np.unique(pred)) <= {0, 1}
    assert proba.shape == (200, 4) and ((proba >= 0) & (proba <= 1)).all()
    assert (pred == (proba > 0.5)).all()
    assert clf.score(X, Y) >= 0.6  # subset accuracy


# --- partial_fit, warm_start, stopping -----------------------------------------------------
def test_partial_fit_classifier():
    X, y = blobs(n=200)
    labels = np.array(["a", "b", "c"])[y + (X[:, 2] > 1)]
    clf = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=1e-2, random_state=0)
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, labels)
    for epoch in range(20):
        part = slice(None, 100) if epoch % 2 else slice(100, None)
        clf.partial_fit(X[part], labels[part], classes=["a", "b", "c"] if epoch == 0 else None)
    assert clf.classes_.tolist() == ["a", "b", "c"]
    assert clf.n_iter_ == 1 and clf.t_ == 20 * 100 and len(clf.loss_curve_) == 20
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert clf.score(X, labels) >= 0.8
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, np.full(len(X), "z"))
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:, :2], labels)
    # the first call needs only some of the classes in y
    other = MLPClassifier(hidden_layer_sizes=(4,)).partial_fit(X[:5], ["a"] * 5, classes=labels)
    assert other.classes_.tolist() == ["a", "b", "c"] and other.model_.output_dim == 3


def test_partial_fit_regressor_continues_one_network():
    X, y = make_regression(n_samples=200, n_features=4, noise=1.0, random_state=0)
    reg = MLPRegressor(hidden_layer_sizes=(16,), learning_rate_init=1e-2, random_state=0)
    reg.partial_fit(X, y / y.std())
    model = reg.model_
    for _ in range(30):
        reg.partial_fit(X, y / y.std())
    assert reg.model_ is model and reg.t_ == 31 * 200
    assert reg.loss_curve_[-1] < 0.5 * reg.loss_curve_[0]


def test_warm_start_continues_the_loss_curve():
    X, y = blobs()
    clf = quiet_fit(MLPClassifier(max_iter=5, warm_start=True, random_state=0), X, y)
    model = clf.model_
    quiet_fit(clf, X, y)
    assert clf.model_ is model and len(clf.loss_curve_) == 10 and clf.n_iter_ == 5
    cold = quiet_fit(MLPClassifier(max_iter=5, random_state=0), X, y)
    quiet_fit(cold, X, y)
    assert len(cold.loss_curve_) == 5


def test_stopping_rule_and_convergence_warning():
    X, y = blobs()
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        MLPClassifier(max_iter=3, random_state=0).fit(X, y)
    # An improvement of tol=10 never comes: the first epoch sets best_loss_, the next three
    # count, and the count exceeds n_iter_no_change=2 after epoch 4 (scikit-learn's MLP also
    # stops at 4 here, with or without early stopping); no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = MLPClassifier(tol=10.0, n_iter_no_change=2, random_state=0).fit(X, y)
        held = MLPClassifier(tol=10.0, n_iter_no_change=2, early_stopping=True,
                             random_state=0).fit(X, y)
    assert clf.n_iter_ == 4 and held.n_iter_ == 4
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None


def test_early_stopping_keeps_the_best_epoch():
    X_tr, X_te, y_tr, y_te = standardized(load_digits)
    clf = MLPClassifier(early_stopping=True, random_state=0).fit(X_tr, y_tr)
    assert clf.n_iter_ < 200 and clf.best_loss_ is None
    assert len(clf.validation_scores_) == clf.n_iter_ == len(clf.loss_curve_)
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.score(X_te, y_te) >= 0.9
    # the held-out split is the one scikit-learn's MLP makes: recompute its score
    again = MLPClassifier(early_stopping=True, random_state=0).fit(X_tr, y_tr)
    assert again.validation_scores_ == clf.validation_scores_
    with pytest.raises(ValueError, match="early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X_tr, y_tr, classes=np.arange(10))
    with pytest.raises(ValueError, match="validation_fraction"):
        MLPClassifier(early_stopping=True).fit(X_tr[:8], y_tr[:8])


def test_verbose_prints_the_loss():
    X, y = blobs()
    out = io.StringIO()
    with redirect_stdout(out):
        quiet_fit(MLPClassifier(max_iter=2, verbose=True, random_state=0), X, y)
    assert out.getvalue().startswith("Iteration 1, loss = ")
    assert "Iteration 2, loss" in out.getvalue()


# --- networks and dtypes --------------------------------------------------------------------
@pytest.mark.parametrize("x_dtype, expected", [(np.float32, np.float32), (np.float64, np.float64),
                                               (np.int64, np.float32)])
def test_dtype_auto(x_dtype, expected):
    X, y = blobs()
    X = (X * 10).astype(x_dtype)
    clf = quiet_fit(MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0), X, y)
    assert clf.model_.dtype == expected
    assert clf.predict_proba(X).dtype == expected
    reg = quiet_fit(MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0), X,
                    y.astype(float))
    assert reg.model_.dtype == expected and reg.predict(X).dtype == expected
    # predicting on another dtype keeps the network's
    assert reg.predict(X.astype(np.float64)).dtype == expected


def test_dtype_explicit():
    X, y = blobs()
    clf = quiet_fit(MLPClassifier(max_iter=3, dtype="float64"), X.astype(np.float32), y)
    assert clf.model_.dtype == np.float64
    clf = quiet_fit(MLPClassifier(max_iter=3, dtype=np.float32), X, y)
    assert clf.model_.dtype == np.float32


def test_network_layers():
    X, y = blobs()
    plain = quiet_fit(MLPClassifier(hidden_layer_sizes=(8, 4), max_iter=2), X, y)
    assert [type(l).__name__ for l in plain.model_.layers] == ["Dense"] * 3
    assert [w.shape for w in plain.coefs_] == [(4, 8), (8, 4), (4, 1)]
    assert [b.shape for b in plain.intercepts_] == [(8,), (4,), (1,)] and plain.n_layers_ == 4
    drop = quiet_fit(MLPClassifier(hidden_layer_sizes=(8,), dropout=0.25, max_iter=2), X, y)
    kinds = [type(l).__name__ for l in drop.model_.layers]
    assert kinds == ["Dense", "Dropout", "Dense"] and drop.model_.layers[1].rate == 0.25
    bn = quiet_fit(MLPClassifier(hidden_layer_sizes=(8,), batch_norm=True, max_iter=2), X, y)
    kinds = [type(l).__name__ for l in bn.model_.layers]
    assert kinds == ["Dense", "BatchNormalization", "Activation", "Dense"]
    # the compiled training plan runs these networks (Dense, Dropout, BatchNormalization, L2)
    free = quiet_fit(MLPClassifier(hidden_layer_sizes=(8,), dropout=0.1, alpha=0.0,
                                   max_iter=2), X, y)
    assert compile_plan(free.model_, 32) is not None
    assert compile_plan(bn.model_, 32) is not None


def test_batch_norm_and_dropout_learn():
    X_tr, X_te, y_tr, y_te = standardized(load_digits)
    for kwargs in ({"batch_norm": True}, {"dropout": 0.2}):
        clf = quiet_fit(MLPClassifier(max_iter=30, random_state=0, **kwargs), X_tr, y_tr)
        assert clf.score(X_te, y_te) >= 0.93, kwargs


@pytest.mark.parametrize("solver", ["adam", "adamw", "sgd", "rmsprop"])
def test_solvers(solver):
    X, y = blobs(n=200)
    clf = quiet_fit(MLPClassifier(solver=solver, learning_rate_init=1e-2, max_iter=50,
                                  random_state=0), X, y)
    assert type(clf.model_.optimizer).__name__.lower() == solver
    assert clf.score(X, y) >= 0.9


def test_alpha_added_later_to_a_network_built_without_it():
    X, y = blobs()
    clf = MLPClassifier(alpha=0.0).partial_fit(X, y, classes=[0, 1])
    clf.set_params(alpha=1e-3)
    with pytest.raises(ValueError, match="alpha"):
        clf.partial_fit(X, y)
    quiet_fit(clf.set_params(max_iter=2), X, y)  # a fresh network carries the penalty


# --- pickling, cloning, model selection -----------------------------------------------------
def test_pickle_round_trip():
    X, y = blobs()
    clf = quiet_fit(MLPClassifier(hidden_layer_sizes=(8,), dropout=0.1, max_iter=20,
                                  random_state=0), X, np.where(y, "yes", "no"))
    data = pickle.dumps(clf)
    classes = []

    class Recording(pickle.Unpickler):
        def find_class(self, module, name):
            classes.append(f"{module}.{name}")
            return super().find_class(module, name)

    same = Recording(io.BytesIO(data)).load()
    # the network travels as npz bytes: no nnfast object but the estimator is pickled
    nnfast_classes = {c for c in classes if c.startswith("nnfast")}
    assert nnfast_classes == {"nnfast.sklearn._classifier.MLPClassifier"}, classes
    assert isinstance(same.model_, nf.Sequential)
    np.testing.assert_array_equal(same.predict_proba(X), clf.predict_proba(X))
    assert (same.predict(X) == clf.predict(X)).all()
    assert same.loss_curve_ == clf.loss_curve_ and same.n_features_in_ == 4
    # training resumes identically (weights, optimizer state, random generator)
    same.partial_fit(X, np.where(y, "yes", "no"))
    clf.partial_fit(X, np.where(y, "yes", "no"))
    np.testing.assert_array_equal(same.predict_proba(X), clf.predict_proba(X))
    reg = quiet_fit(MLPRegressor(max_iter=5, random_state=0), X, X[:, 0])
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(reg)).predict(X), reg.predict(X))
    unfitted = pickle.loads(pickle.dumps(MLPRegressor(alpha=0.5)))
    assert unfitted.get_params() == MLPRegressor(alpha=0.5).get_params()


def test_clone():
    X, y = blobs()
    clf = quiet_fit(MLPClassifier(hidden_layer_sizes=(5, 3), dropout=0.1, batch_norm=True,
                                  dtype="float32", max_iter=3, random_state=1), X, y)
    twin = clone(clf)
    assert twin.get_params() == clf.get_params()
    assert not hasattr(twin, "model_") and not hasattr(twin, "classes_")
    quiet_fit(twin, X, y)
    np.testing.assert_array_equal(twin.predict_proba(X), clf.predict_proba(X))  # seeded


def test_pipeline_grid_search_and_cross_val_score_in_two_processes():
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=100, learning_rate_init=1e-2,
                                                         random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(pipe, X, y, cv=3, n_jobs=2)
        grid = GridSearchCV(pipe, {"mlpclassifier__hidden_layer_sizes": [(4,), (32,)]},
                            cv=3, n_jobs=2).fit(X, y)
    assert scores.shape == (3,) and scores.min() >= 0.7
    assert grid.best_score_ >= 0.85
    assert grid.best_params_["mlpclassifier__hidden_layer_sizes"] in [(4,), (32,)]
    assert grid.score(X, y) >= 0.9
    assert isinstance(grid.best_estimator_[-1].model_, nf.Sequential)


def test_feature_names_from_a_dataframe():
    pd = pytest.importorskip("pandas")
    X, y = blobs()
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = quiet_fit(MLPClassifier(max_iter=3), frame, y)
    assert clf.feature_names_in_.tolist() == ["a", "b", "c", "d"] and clf.n_features_in_ == 4
    with pytest.warns(UserWarning, match="feature names"):
        clf.predict(X)
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(frame[["b", "a", "c", "d"]])


def test_no_feature_names_from_an_array():
    X, y = blobs()
    clf = quiet_fit(MLPClassifier(max_iter=2), X, y)
    assert clf.n_features_in_ == 4 and not hasattr(clf, "feature_names_in_")


# --- errors ---------------------------------------------------------------------------------
@pytest.mark.parametrize("params, name", [
    ({"hidden_layer_sizes": (10, 0)}, "hidden_layer_sizes"),
    ({"hidden_layer_sizes": "10"}, "hidden_layer_sizes"),
    ({"activation": "softsign"}, "activation"),
    ({"solver": "newton"}, "solver"),
    ({"learning_rate": "optimal"}, "learning_rate"),
    ({"power_t": -0.5}, "power_t"),
    ({"alpha": -1.0}, "alpha"),
    ({"alpha": "big"}, "alpha"),
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": "all"}, "batch_size"),
    ({"learning_rate_init": 0.0}, "learning_rate_init"),
    ({"max_iter": 0}, "max_iter"),
    ({"max_iter": 2.5}, "max_iter"),
    ({"random_state": "seed"}, "random_state"),
    ({"tol": -1e-3}, "tol"),
    ({"shuffle": "yes"}, "shuffle"),
    ({"early_stopping": 1}, "early_stopping"),
    ({"validation_fraction": 1.0}, "validation_fraction"),
    ({"n_iter_no_change": 0}, "n_iter_no_change"),
    ({"momentum": 1.5}, "momentum"),
    ({"beta_1": 1.0}, "beta_1"),
    ({"epsilon": 0.0}, "epsilon"),
    ({"dropout": 1.0}, "dropout"),
    ({"dropout": -0.1}, "dropout"),
    ({"batch_norm": "no"}, "batch_norm"),
    ({"dtype": "int32"}, "dtype"),
    ({"dtype": "float16"}, "dtype"),
])
@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_bad_parameters_raise_in_fit_naming_them(cls, params, name):
    est = cls(**params)  # __init__ only stores them
    assert est.get_params()[name] == params[name]
    X, y = blobs(n=20)
    # scikit-learn's InvalidParameterError is both: tests may catch either kind
    for kind in (ValueError, TypeError, nnfast.sklearn.InvalidParameterError):
        with pytest.raises(kind, match=rf"\b{name}\b"):
            est.fit(X, y)


# --- solver="lbfgs" ---------------------------------------------------------------------------
def _same_start(ours, theirs, X, y):
    """Both estimators warm-started from scikit-learn's initial weights."""
    theirs.fit(X, y)
    ours.fit(X, y)
    ours.model_.set_weights([w for pair in zip(theirs.coefs_, theirs.intercepts_) for w in pair])


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_lbfgs_follows_sklearn_from_the_same_start(kind):
    from sklearn.neural_network import MLPRegressor as SkMLPRegressor

    X, y = standardized(load_breast_cancer)[::2]
    if kind == "regressor":
        y = X[:, 0] * X[:, 1] + np.sin(X[:, 2])
    ours_cls, sk_cls = ((MLPClassifier, SkMLPClassifier) if kind == "classifier"
                        else (MLPRegressor, SkMLPRegressor))
    params = dict(solver="lbfgs", hidden_layer_sizes=(16,), alpha=1e-3, max_iter=1,
                  warm_start=True, random_state=0)
    ours, theirs = ours_cls(**params), sk_cls(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        _same_start(ours, theirs, X, y)
        theirs.set_params(max_iter=15).fit(X, y)
        ours.set_params(max_iter=15).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=1e-7)
    for a, b in zip(ours.coefs_, theirs.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)
    # warm start continues the curve: 1 iteration, then 15
    assert len(ours.loss_curve_) == 16 and ours.loss_curve_[-1] == pytest.approx(ours.loss_)


def test_lbfgs_accuracy_and_its_limits():
    X_tr, X_te, y_tr, y_te = standardized(load_digits)
    clf = MLPClassifier(solver="lbfgs", hidden_layer_sizes=(32,), random_state=0).fit(X_tr, y_tr)
    ref = SkMLPClassifier(solver="lbfgs", hidden_layer_sizes=(32,), random_state=0)
    assert clf.score(X_te, y_te) >= ref.fit(X_tr, y_tr).score(X_te, y_te) - 0.02
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        MLPClassifier(solver="lbfgs", max_iter=2, random_state=0).fit(X_tr, y_tr)
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")  # as scikit-learn's
    assert not hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")
    for bad in (dict(dropout=0.1), dict(batch_norm=True)):
        with pytest.raises(ValueError, match="solver"):
            MLPClassifier(solver="lbfgs", **bad).fit(X_tr, y_tr)
    with pytest.raises(ValueError, match="max_fun"):
        MLPClassifier(solver="lbfgs", max_fun=0).fit(X_tr, y_tr)


# --- learning_rate schedules of solver="sgd" ---------------------------------------------------
def test_sgd_invscaling_sets_the_rate_after_every_epoch():
    X, y = blobs(n=100)
    clf = quiet_fit(MLPClassifier(solver="sgd", learning_rate="invscaling", power_t=0.25,
                                  learning_rate_init=0.1, max_iter=3, random_state=0), X, y)
    assert clf.t_ == 300
    assert clf.model_.optimizer.learning_rate == pytest.approx(0.1 / 301 ** 0.25)
    adam = quiet_fit(MLPClassifier(learning_rate="invscaling", max_iter=3, random_state=0), X, y)
    assert adam.model_.optimizer.learning_rate == 1e-3  # other solvers keep learning_rate_init


@pytest.mark.parametrize("early_stopping", [False, True])
def test_sgd_adaptive_divides_the_rate_by_5_as_sklearn(early_stopping):
    # tol=10: no epoch after the first counts as an improvement, so the rule alone decides how
    # many epochs run and what the rate ends at, whatever the weights
    X, y = blobs(n=100)
    params = dict(solver="sgd", learning_rate="adaptive", tol=10.0, n_iter_no_change=1,
                  max_iter=200, random_state=0, hidden_layer_sizes=(4,),
                  early_stopping=early_stopping)
    ours = quiet_fit(MLPClassifier(**params), X, y)
    theirs = quiet_fit(SkMLPClassifier(**params), X, y)
    assert ours.n_iter_ == theirs.n_iter_ < 200
    assert ours.model_.optimizer.learning_rate == pytest.approx(theirs._optimizer.learning_rate)
    assert ours.model_.optimizer.learning_rate <= 1e-6


def test_sparse_input_trains_and_predicts_as_dense():
    import scipy.sparse as sp

    X, y = blobs(n=120)
    X[np.abs(X) < 0.8] = 0.0
    params = dict(hidden_layer_sizes=(8,), max_iter=20, random_state=0)
    dense = quiet_fit(MLPClassifier(**params), X, y)
    for fmt in ("csr", "csc", "coo"):
        sparse = quiet_fit(MLPClassifier(**params), getattr(sp, f"{fmt}_matrix")(X), y)
        np.testing.assert_array_equal(sparse.predict_proba(sp.csr_matrix(X)),
                                      dense.predict_proba(X))
    reg = quiet_fit(MLPRegressor(**params), sp.csr_matrix(X), X[:, 0])
    assert reg.predict(sp.csr_matrix(X)).shape == (120,)


# --- sample weights ---------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_integer_sample_weights_equal_repeated_rows(cls):
    # one batch holds every row (n < 200), so weighting is repetition to rounding, penalty too
    X, y = blobs(n=60)
    target = y if cls is MLPClassifier else X[:, 0] - X[:, 1]
    w = np.random.default_rng(1).integers(0, 4, size=60)
    params = dict(hidden_layer_sizes=(8,), max_iter=30, alpha=1e-2, random_state=0,
                  shuffle=False)
    weighted = quiet_fit(cls(**params), X, target, sample_weight=w)
    repeated = quiet_fit(cls(**params), X.repeat(w, axis=0), target.repeat(w))
    method = "predict_proba" if cls is MLPClassifier else "predict"
    np.testing.assert_allclose(getattr(weighted, method)(X), getattr(repeated, method)(X),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-4)


def test_sample_weights_shift_the_decision():
    X, y = blobs(n=200)
    w = np.where(y == y[0], 20.0, 1.0)  # one class made 20x as costly to miss
    params = dict(hidden_layer_sizes=(8,), max_iter=40, random_state=0)
    plain = quiet_fit(MLPClassifier(**params), X, y)
    weighted = quiet_fit(MLPClassifier(**params), X, y, sample_weight=w)
    favoured = list(plain.classes_).index(y[0])
    assert (weighted.predict_proba(X)[:, favoured].mean()
            > plain.predict_proba(X)[:, favoured].mean())


def test_sample_weights_with_partial_fit_and_early_stopping():
    X, y = blobs(n=120)
    w = np.linspace(0.5, 2.0, 120)
    clf = MLPClassifier(hidden_layer_sizes=(8,), random_state=0)
    clf.partial_fit(X, y, w, np.unique(y))  # scikit-learn's order: sample_weight, classes
    clf.partial_fit(X, y, sample_weight=w)
    assert clf.n_iter_ == 1 and clf.t_ == 240
    reg = quiet_fit(MLPRegressor(hidden_layer_sizes=(8,), max_iter=20, early_stopping=True,
                                 random_state=0), X, X[:, 0], sample_weight=w)
    assert len(reg.validation_scores_) == reg.n_iter_
    reg = MLPRegressor(hidden_layer_sizes=(8,), random_state=0).partial_fit(X, X[:, 0], w)
    assert reg.n_iter_ == 1


def test_sample_weight_errors():
    X, y = blobs(n=20)
    for w, match in [(np.ones(19), "sample_weight|samples"), (-np.ones(20), "(?i)negative|>= 0"),
                     (np.zeros(20), "positive sum|non-zero"), (np.full(20, np.nan), "NaN|finite")]:
        with pytest.raises(ValueError, match=match):
            MLPClassifier(max_iter=2).fit(X, y, sample_weight=w)


def test_data_errors():
    X, y = blobs(n=20)
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(X)
    with pytest.raises(ValueError, match="class"):
        MLPClassifier().fit(X, np.zeros(20))
    with pytest.raises(ValueError, match="Unknown label type"):
        MLPClassifier().fit(X, X[:, 0])
    with pytest.raises(ValueError, match="NaN"):
        MLPRegressor().fit(np.full((20, 4), np.nan), X[:, 0])
    reg = quiet_fit(MLPRegressor(max_iter=2), X, X[:, :2])
    with pytest.raises(ValueError, match="target column"):
        reg.partial_fit(X, X[:, 0])
    with pytest.raises(ValueError, match="4 features"):
        reg.predict(X[:, :3])


def test_a_failed_fit_leaves_the_estimator_as_it_was():
    X, y = blobs()
    clf = quiet_fit(MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0), X, y)
    before = clf.predict_proba(X)
    model, classes = clf.model_, clf.classes_
    clf.set_params(early_stopping=True)
    with pytest.raises(ValueError, match="validation_fraction"):
        clf.fit(X[:6], np.array(["a", "b", "c"] * 2))  # too few rows to hold out
    assert clf.model_ is model and clf.classes_ is classes and clf.n_features_in_ == 4
    np.testing.assert_array_equal(clf.predict_proba(X), before)
    with pytest.raises(ValueError, match="alpha"):
        clf.set_params(alpha=-1.0, early_stopping=False).fit(X, y)
    assert clf.model_ is model
