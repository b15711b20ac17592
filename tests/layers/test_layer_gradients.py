"""Finite-difference gradient checks in float64: every layer, activation and loss, in 3-layer nets.

The model's analytic gradients (``compute_gradients``: forward, fused loss, backward and
regularizer gradients) are compared with central differences of its loss. The layer under test
sits in the middle of a Dense - layer - Dense stack, so the first Dense's kernel gradient also
checks the middle layer's input gradient.
"""

import numpy as np
import pytest

import nnfast as nf
from helpers import central_difference

ACTIVATIONS = ["linear", "relu", "leaky_relu", "elu", "sigmoid", "tanh", "softmax", "gelu",
               "swish", "softplus"]


def _targets(loss_name, rng, n, k):
    if loss_name == "sparse":
        return rng.integers(0, k, size=n)
    if loss_name in ("categorical", "categorical_probs"):
        return np.eye(k)[rng.integers(0, k, size=n)]
    if loss_name == "binary":
        return rng.integers(0, 2, size=(n, k)).astype(float)
    return rng.normal(size=(n, k))


def check_gradients(layers, loss, X, y, *, sample_weight=None, rtol=1e-5, atol=1e-7, seed=0):
    """Assert the model's gradients of every trainable weight match central differences."""
    model = nf.Sequential(layers, input_dim=X.shape[1], dtype="float64", seed=seed)
    model.compile(nf.optimizers.SGD(0.0), loss)
    model.build()
    rng_state = model._rng.bit_generator.state  # a fixed dropout mask for every evaluation

    def loss_at():
        model._rng.bit_generator.state = rng_state
        return model.compute_gradients(X, y, sample_weight=sample_weight)

    _, grads = loss_at()
    weights = model.get_weights()
    pairs = [(l, n) for l in model.layers for n in l.weight_names()]
    names = [(l.name, n) for l, n in pairs]
    trainable = [i for i, (l, n) in enumerate(pairs)
                 if l.trainable and n not in ("moving_mean", "moving_variance")]
    assert len(trainable) == len(grads)
    for gi, wi in enumerate(trainable):
        def f(w, wi=wi):
            ws = list(weights)
            ws[wi] = w
            model.set_weights(ws)
            return loss_at()[0]

        numeric = central_difference(f, weights[wi])
        model.set_weights(weights)
        np.testing.assert_allclose(grads[gi], numeric, rtol=rtol, atol=atol,
                                   err_msg=f"gradient of {names[wi]}")
    return model


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_dense_activation_gradients(activation):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(7, 4))
    y = rng.normal(size=(7, 2))
    check_gradients([nf.layers.Dense(5, activation="tanh"),
                     nf.layers.Dense(6, activation=activation, bias_initializer="ones"),
                     nf.layers.Dense(2)], "mse", X, y)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_layer_gradients(activation):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(6, 3))
    y = rng.normal(size=(6, 2))
    check_gradients([nf.layers.Dense(5), nf.layers.Activation(activation), nf.layers.Dense(2)],
                    "mse", X, y)


@pytest.mark.parametrize("loss,last,kind", [
    ("mse", None, "values"),
    ("mae", None, "values"),
    ("huber", None, "values"),
    (nf.losses.Huber(delta=0.3), None, "values"),
    ("binary_crossentropy", "sigmoid", "binary"),
    (nf.losses.BinaryCrossentropy(label_smoothing=0.1), "sigmoid", "binary"),
    (nf.losses.BinaryCrossentropy(from_logits=True), None, "binary"),
    (nf.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.2), None, "binary"),
    ("categorical_crossentropy", "softmax", "categorical"),
    (nf.losses.CategoricalCrossentropy(label_smoothing=0.1), "softmax", "categorical"),
    (nf.losses.CategoricalCrossentropy(from_logits=True), None, "categorical"),
    ("sparse_categorical_crossentropy", "softmax", "sparse"),
    (nf.losses.SparseCategoricalCrossentropy(from_logits=True), None, "sparse"),
])
def test_loss_gradients_through_three_layers(loss, last, kind):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(8, 4))
    k = 3
    y = _targets(kind, rng, 8, k)
    w = rng.uniform(0.2, 2.0, size=8)
    layers = [nf.layers.Dense(5, activation="relu", bias_initializer="ones"),
              nf.layers.Dense(4, activation="tanh"), nf.layers.Dense(k, activation=last)]
    check_gradients(layers, loss, X, y)
    layers = [nf.layers.Dense(5, activation="relu", bias_initializer="ones"),
              nf.layers.Dense(4, activation="tanh"), nf.layers.Dense(k, activation=last)]
    check_gradients(layers, loss, X, y, sample_weight=w)


@pytest.mark.parametrize("loss,last,kind", [
    (nf.losses.BinaryCrossentropy(label_smoothing=0.1), "sigmoid", "binary"),
    (nf.losses.CategoricalCrossentropy(label_smoothing=0.1), "softmax", "categorical"),
    ("sparse_categorical_crossentropy", "softmax", "sparse"),
])
def test_cross_entropy_from_probabilities_gradients(loss, last, kind):
    """A final layer that is not the activation makes the loss read probabilities."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(6, 3))
    y = _targets(kind, rng, 6, 3)
    model = check_gradients([nf.layers.Dense(4, activation="tanh"),
                             nf.layers.Dense(3, activation=last), nf.layers.Dropout(0.0)],
                            loss, X, y)
    assert model._mode == "probs"


def test_batch_normalization_training_mode_gradients():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(9, 4))
    y = rng.integers(0, 3, size=9)
    check_gradients([nf.layers.Dense(5, activation="relu", bias_initializer="ones"),
                     nf.layers.BatchNormalization(momentum=0.5),
                     nf.layers.Dense(3, activation="softmax")],
                    "sparse_categorical_crossentropy", X, y)


def test_batch_normalization_as_first_layer_and_frozen():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(8, 3))
    y = rng.normal(size=(8, 2))
    check_gradients([nf.layers.BatchNormalization(), nf.layers.Dense(4, activation="elu"),
                     nf.layers.Dense(2)], "mse", X, y)
    frozen = nf.layers.BatchNormalization(trainable=False)
    check_gradients([nf.layers.Dense(4, activation="elu"), frozen, nf.layers.Dense(2)],
                    "mse", X, y)


def test_layer_normalization_gradients():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(5, 4))
    y = rng.normal(size=(5, 2))
    check_gradients([nf.layers.Dense(6, activation="gelu"), nf.layers.LayerNormalization(),
                     nf.layers.Dense(2)], "mse", X, y)
    check_gradients([nf.layers.LayerNormalization(epsilon=0.1), nf.layers.Dense(3),
                     nf.layers.Dense(2)], "huber", X, y)


def test_dropout_gradients_with_a_fixed_mask():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(7, 4))
    y = np.eye(3)[rng.integers(0, 3, size=7)]
    check_gradients([nf.layers.Dense(6, activation="swish"), nf.layers.Dropout(0.4),
                     nf.layers.Dense(3, activation="softmax")], "categorical_crossentropy", X, y)


def test_regularizer_gradients_and_frozen_layers():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(6, 3))
    y = rng.integers(0, 2, size=6)
    check_gradients([nf.layers.Dense(4, activation="softplus",
                                     kernel_regularizer=nf.regularizers.l2(0.1),
                                     bias_regularizer=nf.regularizers.l1(0.05),
                                     bias_initializer="ones"),
                     nf.layers.Dense(3, activation="tanh", trainable=False,
                                     kernel_regularizer=nf.regularizers.l1_l2(0.1, 0.1)),
                     nf.layers.Dense(1, activation="sigmoid",
                                     kernel_regularizer=nf.regularizers.l1_l2(0.01, 0.2))],
                    "binary_crossentropy", X, y)


def test_everything_in_one_network():
    rng = np.random.default_rng(10)
    X = rng.normal(size=(10, 5))
    y = rng.integers(0, 4, size=10)
    check_gradients([nf.layers.Dense(8, activation="leaky_relu", bias_initializer="ones"),
                     nf.layers.BatchNormalization(), nf.layers.Dropout(0.25),
                     nf.layers.Dense(6, activation="sigmoid"), nf.layers.LayerNormalization(),
                     nf.layers.Activation("gelu"), nf.layers.Dense(4, activation="softmax")],
                    "sparse_categorical_crossentropy", X, y)


def test_hand_worked_example():
    """One Dense unit, MSE: loss = mean((x·w + b − y)²), worked out by hand."""
    model = nf.Sequential([nf.layers.Dense(1)], input_dim=2, dtype="float64")
    model.compile("sgd", "mse")
    model.set_weights([np.array([[1.0], [2.0]]), np.array([0.5])])
    X = np.array([[1.0, 1.0], [2.0, 0.0]])
    y = np.array([3.0, 1.0])
    loss, (dw, db) = model.compute_gradients(X, y)
    # predictions 3.5 and 2.5, errors 0.5 and 1.5: loss = (0.25 + 2.25) / 2 = 1.25
    assert loss == pytest.approx(1.25)
    np.testing.assert_allclose(dw, [[0.5 + 3.0], [0.5]])   # mean of 2·e·x
    np.testing.assert_allclose(db, [2.0])                  # mean of 2·e
