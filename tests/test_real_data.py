"""Real data shipped with scikit-learn: digits and breast cancer reach MLPClassifier's accuracy."""

import time

import numpy as np
import pytest

import nnfast as nf

datasets = pytest.importorskip("sklearn.datasets")
model_selection = pytest.importorskip("sklearn.model_selection")
preprocessing = pytest.importorskip("sklearn.preprocessing")

pytestmark = pytest.mark.slow


def split(loader):
    X, y = loader(return_X_y=True)
    X_tr, X_te, y_tr, y_te = model_selection.train_test_split(X, y, test_size=0.3, random_state=0)
    scaler = preprocessing.StandardScaler().fit(X_tr)
    return scaler.transform(X_tr), scaler.transform(X_te), y_tr, y_te


def test_digits_64_128_10_reaches_96_percent():
    X_tr, X_te, y_tr, y_te = split(datasets.load_digits)
    model = nf.Sequential([nf.layers.Dense(128, activation="relu"),
                           nf.layers.Dense(10, activation="softmax")], input_dim=64, seed=0)
    model.compile(nf.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    t0 = time.perf_counter()
    model.fit(X_tr, y_tr, epochs=30, batch_size=32, verbose=0)
    elapsed = time.perf_counter() - t0
    acc = model.evaluate(X_te, y_te)["accuracy"]
    assert acc >= 0.96, acc
    assert np.mean(model.predict(X_te).argmax(1) == y_te) == pytest.approx(acc)
    assert elapsed < 20


def test_breast_cancer_reaches_95_percent():
    X_tr, X_te, y_tr, y_te = split(datasets.load_breast_cancer)
    model = nf.Sequential([nf.layers.Dense(16, activation="relu"),
                           nf.layers.Dense(1, activation="sigmoid")], input_dim=30, seed=0)
    model.compile(nf.optimizers.Adam(1e-3), "binary_crossentropy", metrics=["accuracy", "auc"])
    model.fit(X_tr, y_tr, epochs=40, batch_size=32, verbose=0)
    res = model.evaluate(X_te, y_te)
    assert res["accuracy"] >= 0.95, res
    assert res["auc"] >= 0.98, res


def test_digits_with_batchnorm_dropout_and_early_stopping():
    X_tr, X_te, y_tr, y_te = split(datasets.load_digits)
    model = nf.Sequential([nf.layers.Dense(128, activation="relu", kernel_initializer="he_normal"),
                           nf.layers.BatchNormalization(), nf.layers.Dropout(0.2),
                           nf.layers.Dense(10, activation="softmax")], input_dim=64, seed=1)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    es = nf.callbacks.EarlyStopping(patience=5, restore_best_weights=True)
    model.fit(X_tr, y_tr, epochs=40, batch_size=64, validation_split=0.15, verbose=0, callbacks=[es])
    assert model.evaluate(X_te, y_te)["accuracy"] >= 0.95
