"""Every bad input raises ValueError/TypeError naming the argument and what was expected."""

import numpy as np
import pytest

import nnfast as nf


def model(k=3, **kw):
    m = nf.Sequential([nf.layers.Dense(8, activation="relu"),
                       nf.layers.Dense(k, activation="softmax")], input_dim=4, seed=0, **kw)
    m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


X = np.random.default_rng(0).normal(size=(20, 4))
Y = np.arange(20) % 3


def test_wrong_feature_count():
    with pytest.raises(ValueError, match=r"Expected X with 4 features.*\(20, 5\)"):
        model().fit(np.zeros((20, 5)), Y, verbose=0)
    with pytest.raises(ValueError, match="4 features"):
        model().predict(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="2-D"):
        model().predict(np.zeros(4))


@pytest.mark.parametrize("labels,match", [
    (np.full(20, 3), r"in \[0, 3\).*3"),
    (np.full(20, -1), r"in \[0, 3\).*-1"),
    (np.full(20, 0.5), "integer"),
])
def test_labels_out_of_range_negative_or_fractional(labels, match):
    with pytest.raises((ValueError, TypeError), match=match):
        model().fit(X, labels, verbose=0)


def test_binary_targets_outside_zero_one():
    m = nf.Sequential([nf.layers.Dense(1, activation="sigmoid")], input_dim=4)
    m.compile("sgd", "binary_crossentropy")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        m.fit(X, np.full(20, 2.0), verbose=0)


def test_one_hot_expected_for_categorical():
    m = model()
    m.compile("sgd", "categorical_crossentropy")
    with pytest.raises(ValueError, match=r"shape \(n, 3\).*sparse_categorical_crossentropy"):
        m.fit(X, Y, verbose=0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_in_inputs_and_targets(bad):
    Xb = X.copy()
    Xb[3, 1] = bad
    with pytest.raises(ValueError, match="X to be finite"):
        model().fit(Xb, Y, verbose=0)
    with pytest.raises(ValueError, match="finite"):
        model().predict(Xb)
    m = nf.Sequential([nf.layers.Dense(1)], input_dim=4)
    m.compile("sgd", "mse")
    yb = np.zeros(20)
    yb[0] = bad
    with pytest.raises(ValueError, match="y to be finite"):
        m.fit(X, yb, verbose=0)
    with pytest.raises(ValueError, match="finite"):
        model().fit(X, np.where(np.arange(20) == 0, bad, Y), verbose=0)


def test_length_mismatch_and_empty_data():
    with pytest.raises(ValueError, match="same number of samples"):
        model().fit(X, Y[:-1], verbose=0)
    with pytest.raises(ValueError, match="at least one sample"):
        model().fit(np.zeros((0, 4)), np.zeros(0, int), verbose=0)
    with pytest.raises(ValueError, match="at least one sample"):
        model().predict(np.zeros((0, 4)))
    with pytest.raises(ValueError, match="same number of samples"):
        model().fit(X, Y, verbose=0, validation_data=(X, Y[:5]))


@pytest.mark.parametrize("kw,exc,match", [
    (dict(batch_size=0), ValueError, "batch_size >= 1"),
    (dict(batch_size=2.5), TypeError, "batch_size"),
    (dict(epochs=-1), ValueError, "epochs >= 0"),
    (dict(epochs="3"), TypeError, "epochs"),
    (dict(validation_split=1.0), ValueError, "validation_split"),
    (dict(validation_split=-0.1), ValueError, "validation_split"),
    (dict(verbose=3), ValueError, "verbose"),
    (dict(sample_weight=np.ones(3)), ValueError, "sample_weight"),
    (dict(sample_weight=-np.ones(20)), ValueError, "sample_weight"),
    (dict(class_weight=[1, 2]), TypeError, "class_weight"),
    (dict(class_weight={"a": 1.0}), ValueError, "class_weight key"),
    (dict(class_weight={None: 1.0}), ValueError, "class_weight key"),
    (dict(class_weight={10**12: 1.0}), ValueError, r"class_weight keys .*\[0, 3\)"),
    (dict(class_weight={True: 1.0}), ValueError, "class_weight key"),
    (dict(class_weight={0: -1.0}), ValueError, "class_weight values"),
    (dict(sample_weight=np.array(["a"] * 20)), TypeError, "sample_weight"),
    (dict(verbose="1"), ValueError, "verbose"),
    (dict(validation_data=X), ValueError, "validation_data"),
])
def test_fit_arguments_out_of_range(kw, exc, match):
    with pytest.raises(exc, match=match):
        model().fit(X, Y, **{"verbose": 0, **kw})


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="relu.*softmax.*gelu"):
        nf.layers.Dense(3, activation="relux")
    with pytest.raises(ValueError, match="relu"):
        nf.layers.Activation("nope")
    with pytest.raises(ValueError, match="mse.*sparse_categorical_crossentropy"):
        model().compile("adam", "cross_entropy")
    with pytest.raises(ValueError, match="sgd, rmsprop, adam, adamw"):
        model().compile("adagrad", "mse")
    with pytest.raises(ValueError, match="glorot_uniform"):
        nf.layers.Dense(3, kernel_initializer="glorot")
    with pytest.raises(ValueError, match="accuracy"):
        model().compile("adam", "mse", metrics=["acuracy"])


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_dropout_rate_outside_unit_interval(rate):
    with pytest.raises(ValueError, match=r"rate in \[0, 1\)"):
        nf.layers.Dropout(rate)


def test_layer_arguments_validated_at_construction():
    with pytest.raises(ValueError, match="units >= 1"):
        nf.layers.Dense(0)
    with pytest.raises(TypeError, match="units"):
        nf.layers.Dense(2.0)
    with pytest.raises(TypeError, match="units"):
        nf.layers.Dense(True)
    with pytest.raises(ValueError, match="momentum"):
        nf.layers.BatchNormalization(momentum=1.0)
    with pytest.raises(ValueError, match="epsilon"):
        nf.layers.LayerNormalization(epsilon=0.0)
    with pytest.raises(ValueError, match="strength|l2"):
        nf.layers.Dense(2, kernel_regularizer=nf.regularizers.l2(-1.0))
    with pytest.raises(TypeError, match="trainable"):
        nf.layers.Dense(2).trainable = "yes"
    with pytest.raises(TypeError, match="Layer"):
        nf.Sequential(["dense"])


def test_negative_learning_rate():
    with pytest.raises(ValueError, match="learning_rate >= 0"):
        model().compile(nf.optimizers.SGD(learning_rate=-1.0), "mse")


def test_a_schedule_returning_a_bad_rate_raises_at_that_step():
    for bad in (-1.0, float("nan")):
        m = model()
        m.compile(nf.optimizers.SGD(learning_rate=lambda step: 0.01 if step < 2 else bad), "mse")
        with pytest.raises(ValueError, match="learning_rate schedule.*step 2"):
            m.fit(X, np.eye(3)[Y], epochs=3, batch_size=10, verbose=0)
        assert m.optimizer.iterations == 2                    # the two good steps ran, no more


def test_callbacks_must_be_a_list_of_callbacks():
    with pytest.raises(TypeError, match="callbacks to be a list"):
        model().fit(X, Y, verbose=0, callbacks=nf.callbacks.TerminateOnNaN())
    with pytest.raises(TypeError, match=r"callbacks\[1\]"):
        model().fit(X, Y, verbose=0, callbacks=[nf.callbacks.TerminateOnNaN(), "csv"])


def test_set_weights_count_and_shapes():
    m = model()
    ws = m.get_weights()
    for bad in (None, 3, ws[0]):
        with pytest.raises(TypeError, match="weights to be a list"):
            m.set_weights(bad)
    with pytest.raises(ValueError, match="Expected 4 weight arrays, received: 3"):
        m.set_weights(ws[:3])
    bad = list(ws)
    bad[2] = np.zeros((3, 8))
    with pytest.raises(ValueError, match=r"dense_1.kernel of shape \(8, 3\).*\(3, 8\)"):
        m.set_weights(bad)
    np.testing.assert_array_equal(m.get_weights()[0], ws[0])   # nothing half-written


def test_predict_before_build_and_fit_before_compile():
    m = nf.Sequential([nf.layers.Dense(2)], seed=3)
    with pytest.raises(ValueError, match="not been built"):
        m.summary()
    out = m.predict(X)  # builds from X's width, as fit and evaluate (and Keras) do
    assert out.shape == (len(X), 2) and m.input_dim == X.shape[1]
    np.testing.assert_array_equal(out, nf.Sequential([nf.layers.Dense(2)], input_dim=X.shape[1],
                                                     seed=3).predict(X))
    with pytest.raises(ValueError, match="features"):
        m.predict(X[:, :2])
    with pytest.raises(ValueError, match="compile"):
        m.fit(X, Y, verbose=0)
    with pytest.raises(ValueError, match="compile"):
        nf.Sequential([nf.layers.Dense(2)], input_dim=4).evaluate(X, Y)
    with pytest.raises(ValueError, match="empty"):
        nf.Sequential(input_dim=3).predict(np.zeros((1, 3)))


def test_model_constructor_arguments():
    with pytest.raises(ValueError, match="dtype"):
        nf.Sequential(dtype="float16")
    with pytest.raises(ValueError, match="input_dim >= 1"):
        nf.Sequential(input_dim=0)
    with pytest.raises(TypeError, match="seed"):
        nf.Sequential(seed="abc")


def test_bad_x_types():
    with pytest.raises(TypeError, match="numbers"):
        model().predict(np.array([["a", "b", "c", "d"]]))
    with pytest.raises(ValueError, match="Expected X to be an array"):
        model().predict([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0]])  # ragged
    with pytest.raises(TypeError, match="X"):
        model().predict(None)
    with pytest.raises(TypeError, match="y"):
        model().fit(X, None, verbose=0)
    with pytest.raises(TypeError, match="list"):
        nf.Sequential(nf.layers.Dense(2))


def test_verbose_accepts_bools_as_keras():
    m = model()
    m.fit(X, Y, epochs=1, verbose=False)
    m.predict(X, verbose=True)


def test_class_weight_weights_the_training_rows_only():
    # Keras: class weights are for training; val_loss is the plain loss of the held-out rows
    m = model()
    m.compile(nf.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
    hist = m.fit(X, Y, epochs=1, validation_split=0.25, class_weight={0: 1.0, 1: 2.0, 2: 0.5},
                 verbose=0)
    at = int(len(X) * 0.75)
    assert hist.history["val_loss"][0] == pytest.approx(m.evaluate(X[at:], Y[at:])["loss"],
                                                        rel=1e-6)
    plain = model()
    plain.compile(nf.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
    unweighted = plain.fit(X, Y, epochs=1, validation_split=0.25, verbose=0).history
    assert hist.history["loss"][0] != pytest.approx(unweighted["loss"][0], rel=1e-6)


def test_set_weights_builds_an_unbuilt_model_from_the_first_weight():
    firsts = (nf.layers.BatchNormalization, nf.layers.LayerNormalization,
              lambda: nf.layers.Dropout(0.1), lambda: nf.layers.Dense(6))
    for first in firsts:
        src = nf.Sequential([first(), nf.layers.Dense(3)], input_dim=5, seed=0)
        src.build()
        dst = nf.Sequential([first(), nf.layers.Dense(3)])
        dst.set_weights(src.get_weights())
        assert dst.input_dim == 5
        for a, b in zip(src.get_weights(), dst.get_weights()):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bad,match", [(np.nan, "y to be finite"), (np.inf, "y to be finite"),
                                       (1.5, r"\[0, 1\] for binary"), (-0.5, r"\[0, 1\] for binary")])
def test_binary_targets_checked_by_train_on_batch(bad, match):
    # train_on_batch runs the plan's step without train_chunk's checks: _data's must hold,
    # and a refused batch leaves the weights and the step count as they were.
    m = nf.Sequential([nf.layers.Dense(1, activation="sigmoid")], input_dim=4, seed=0)
    m.compile("adam", "binary_crossentropy")
    m.train_on_batch(X, np.zeros(20))
    before, it = [w.copy() for w in m.get_weights()], m.optimizer.iterations
    yb = np.zeros(20)
    yb[7] = bad
    with pytest.raises(ValueError, match=match):
        m.train_on_batch(X, yb)
    assert m.optimizer.iterations == it
    assert all(np.array_equal(a, b) for a, b in zip(before, m.get_weights()))


@pytest.mark.parametrize("labels,exc", [(np.array([0] * 19 + [3]), ValueError),
                                        (np.array([0] * 19 + [-1]), ValueError),
                                        (np.zeros(20) + 0.5, TypeError),
                                        (np.zeros(19, int), ValueError)])
def test_sparse_labels_checked_by_train_on_batch(labels, exc):
    m = model()
    m.compile("adam", "sparse_categorical_crossentropy")
    m.train_on_batch(X, Y)
    before, it = [w.copy() for w in m.get_weights()], m.optimizer.iterations
    with pytest.raises(exc):
        m.train_on_batch(X, labels)
    assert m.optimizer.iterations == it
    assert all(np.array_equal(a, b) for a, b in zip(before, m.get_weights()))
