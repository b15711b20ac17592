"""The layer contract (validation, config round trips, build), activations and losses by name."""

import numpy as np
import pytest
from scipy.special import erf

import nnfast as nf

LAYERS = [
    lambda: nf.layers.Dense(3, activation="gelu", use_bias=False, kernel_initializer="he_uniform",
                            kernel_regularizer=nf.regularizers.l1_l2(0.1, 0.2), name="d"),
    lambda: nf.layers.Dense(2, bias_initializer="ones", bias_regularizer="l2", trainable=False),
    lambda: nf.layers.Activation("silu"),
    lambda: nf.layers.Dropout(0.3),
    lambda: nf.layers.BatchNormalization(momentum=0.8, epsilon=1e-5),
    lambda: nf.layers.LayerNormalization(epsilon=1e-4),
]


@pytest.mark.parametrize("make", LAYERS)
def test_config_round_trip(make):
    layer = make()
    cfg = nf.layers.serialize(layer)
    same = nf.layers.deserialize(cfg)
    assert type(same) is type(layer)
    assert nf.layers.serialize(same) == cfg
    assert same.trainable == layer.trainable


def test_deserialize_accepts_only_nnfast_layers():
    with pytest.raises(ValueError, match="Dense"):
        nf.layers.deserialize({"class_name": "Lambda", "config": {}})


def test_build_declares_shapes_and_output_dim():
    d = nf.layers.Dense(5)
    assert d.build(3, np.float32) == 5
    assert [(s.name, s.shape) for s in d.weight_specs()] == [("kernel", (3, 5)), ("bias", (5,))]
    bn = nf.layers.BatchNormalization()
    assert bn.build(4, np.float64) == 4
    assert [s.name for s in bn.state_specs()] == ["moving_mean", "moving_variance"]
    assert bn.weight_names() == ["gamma", "beta", "moving_mean", "moving_variance"]


def test_weights_are_views_into_one_flat_buffer():
    model = nf.Sequential([nf.layers.Dense(4), nf.layers.BatchNormalization(), nf.layers.Dense(2)],
                          input_dim=3, seed=0)
    model.build()
    flat = model._store.params
    assert flat.size == 12 + 4 + 8 + 8 + 2 and flat.flags.c_contiguous
    for layer in model.layers:
        for view in layer.params.values():
            assert view.base is flat
        for view in layer.grads.values():
            assert view.base is model._store.grads
    assert model.layers[1].state["moving_mean"].base is model._store.state


def _np_act(name, x):
    if name == "softmax":
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    return {
        "linear": lambda: x, "relu": lambda: np.maximum(x, 0),
        "leaky_relu": lambda: np.where(x > 0, x, 0.01 * x),
        "elu": lambda: np.where(x > 0, x, np.expm1(x)), "sigmoid": lambda: 1 / (1 + np.exp(-x)),
        "tanh": lambda: np.tanh(x), "gelu": lambda: 0.5 * x * (1 + erf(x / np.sqrt(2))),
        "swish": lambda: x / (1 + np.exp(-x)), "softplus": lambda: np.log1p(np.exp(x)),
    }[name]()


@pytest.mark.parametrize("name", list(nf.activations.NAMES) + ["silu"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_functions_by_name(name, dtype):
    x = np.random.default_rng(0).normal(scale=3, size=(5, 7)).astype(dtype)
    fn = getattr(nf.activations, name)
    y = fn(x)
    assert y.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y, _np_act(nf.activations.get(name).name, x.astype(np.float64)),
                               rtol=tol, atol=tol)
    assert nf.activations.get(name) is nf.activations.get(fn)


def test_activation_layer_takes_its_function_as_name_too():
    x = np.array([[-1.0, 2.0]], np.float32)
    for layer in (nf.layers.Activation("relu"), nf.layers.Activation(name="relu"),
                  nf.layers.Activation(activation="relu", name="act")):
        assert nf.Sequential([layer], input_dim=2).predict(x).tolist() == [[0.0, 2.0]]
    assert nf.layers.Activation(activation="tanh", name="act").name == "act"
    with pytest.raises(TypeError, match="missing its activation"):
        nf.layers.Activation()


def test_activation_get_errors():
    with pytest.raises(ValueError, match="linear, relu, leaky_relu"):
        nf.activations.get("mish")
    with pytest.raises(TypeError, match="activation"):
        nf.activations.get(np.tanh)
    assert nf.activations.get(None).name == "linear"


def test_activation_backward_matches_finite_differences():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 4))
    dy = rng.normal(size=(3, 4))
    for name in nf.activations.NAMES:
        act = nf.activations.get(name)
        y = act(x)
        dx = act.backward(dy, x=x, y=y)
        eps = 1e-6
        num = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            xp, xm = x.copy(), x.copy()
            xp[idx] += eps
            xm[idx] -= eps
            num[idx] = np.sum(dy * (act(xp) - act(xm))) / (2 * eps)
        np.testing.assert_allclose(dx, num, rtol=1e-6, atol=1e-8, err_msg=name)


def test_losses_by_name_and_values():
    t = np.array([[1.0, 0.0], [0.0, 1.0]])
    p = np.array([[0.8, 0.2], [0.4, 0.6]])
    assert nf.losses.get("mse")(t, p) == pytest.approx(np.mean((t - p) ** 2))
    assert nf.losses.get("mean_absolute_error")(t, p) == pytest.approx(np.mean(np.abs(t - p)))
    assert nf.losses.get("categorical_crossentropy")(t, p) == pytest.approx(
        -np.mean(np.log([0.8, 0.6])))
    assert nf.losses.get("sparse_categorical_crossentropy")(np.array([0, 1]), p) == pytest.approx(
        -np.mean(np.log([0.8, 0.6])))
    b = np.array([1.0, 0.0])
    q = np.array([0.9, 0.3])
    assert nf.losses.get("binary_crossentropy")(b, q) == pytest.approx(
        -np.mean([np.log(0.9), np.log(0.7)]))
    e = np.array([[0.5, 3.0]])
    assert nf.losses.Huber(delta=1.0)(np.zeros((1, 2)), e) == pytest.approx((0.125 + 2.5) / 2)
    ls = nf.losses.CategoricalCrossentropy(label_smoothing=0.2)
    smooth = t * 0.8 + 0.1
    assert ls(t, p) == pytest.approx(-np.mean(np.sum(smooth * np.log(p), axis=1)))
    with pytest.raises(ValueError, match="label_smoothing"):
        nf.losses.BinaryCrossentropy(label_smoothing=1.5)
    with pytest.raises(ValueError, match="delta"):
        nf.losses.Huber(delta=0)


@pytest.mark.parametrize("loss", [nf.losses.MeanSquaredError(), nf.losses.Huber(0.5),
                                  nf.losses.BinaryCrossentropy(True, 0.1),
                                  nf.losses.CategoricalCrossentropy(label_smoothing=0.2),
                                  nf.losses.SparseCategoricalCrossentropy(from_logits=True)])
def test_loss_config_round_trip(loss):
    same = nf.losses.deserialize(nf.losses.serialize(loss))
    assert type(same) is type(loss) and same.get_config() == loss.get_config()


def test_fusion_is_chosen_from_the_last_activation():
    def mode(last, loss):
        m = nf.Sequential([nf.layers.Dense(3), last], input_dim=2)
        m.compile("sgd", loss)
        m.build()
        return m._mode

    assert mode(nf.layers.Dense(3, activation="softmax"), "categorical_crossentropy") == "fused"
    assert mode(nf.layers.Activation("softmax"), "sparse_categorical_crossentropy") == "fused"
    assert mode(nf.layers.Dense(1, activation="sigmoid"), "binary_crossentropy") == "fused"
    assert mode(nf.layers.Dense(3), nf.losses.CategoricalCrossentropy(from_logits=True)) == "logits"
    assert mode(nf.layers.Dense(3, activation="relu"), "categorical_crossentropy") == "probs"
    assert mode(nf.layers.Dense(3, activation="softmax"), "mse") == "values"
