"""Optimizers: torch.optim's formulas (NumPy transcription and torch itself), clipping, schedules."""

import numpy as np
import pytest

import nnfast as nf
from helpers import torch_or_skip


# --- NumPy transcription of torch.optim (for-loop ground truth, float64) -------------------
def torch_sgd(p, grads, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    p, b = p.copy(), None
    for g in grads:
        g = g + weight_decay * p
        if momentum:
            b = g.copy() if b is None else momentum * b + g
            g = g + momentum * b if nesterov else b
        p = p - lr * g
    return p


def torch_rmsprop(p, grads, lr, alpha=0.9, eps=1e-8, momentum=0.0, weight_decay=0.0):
    p, v, b = p.copy(), np.zeros_like(p), np.zeros_like(p)
    for g in grads:
        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        avg = np.sqrt(v) + eps
        if momentum > 0:
            b = momentum * b + g / avg
            p = p - lr * b
        else:
            p = p - lr * g / avg
    return p


def torch_adam(p, grads, lr, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0, decoupled=False):
    p, m, v = p.copy(), np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mhat = m / (1 - b1**t)
        vhat = v / (1 - b2**t)
        p = p - lr * mhat / (np.sqrt(vhat) + eps)
    return p


CASES = [
    (lambda: nf.optimizers.SGD(0.1), lambda p, gs: torch_sgd(p, gs, 0.1)),
    (lambda: nf.optimizers.SGD(0.05, momentum=0.9),
     lambda p, gs: torch_sgd(p, gs, 0.05, momentum=0.9)),
    (lambda: nf.optimizers.SGD(0.05, momentum=0.8, nesterov=True, weight_decay=0.01),
     lambda p, gs: torch_sgd(p, gs, 0.05, momentum=0.8, nesterov=True, weight_decay=0.01)),
    (lambda: nf.optimizers.RMSprop(0.01), lambda p, gs: torch_rmsprop(p, gs, 0.01)),
    (lambda: nf.optimizers.RMSprop(0.01, rho=0.8, momentum=0.5, weight_decay=0.1),
     lambda p, gs: torch_rmsprop(p, gs, 0.01, alpha=0.8, momentum=0.5, weight_decay=0.1)),
    (lambda: nf.optimizers.Adam(0.01), lambda p, gs: torch_adam(p, gs, 0.01)),
    (lambda: nf.optimizers.Adam(0.02, beta_1=0.8, beta_2=0.99, epsilon=1e-6, weight_decay=0.1),
     lambda p, gs: torch_adam(p, gs, 0.02, 0.8, 0.99, 1e-6, weight_decay=0.1)),
    (lambda: nf.optimizers.AdamW(0.01), lambda p, gs: torch_adam(p, gs, 0.01, weight_decay=0.01,
                                                                 decoupled=True)),
    (lambda: nf.optimizers.AdamW(0.01, weight_decay=0.3),
     lambda p, gs: torch_adam(p, gs, 0.01, weight_decay=0.3, decoupled=True)),
]


def _run(opt, p0, grads):
    p = p0.copy()
    for g in grads:
        opt.apply_gradients([(g, p)])
    return p


@pytest.mark.parametrize("make,ref", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_update_rules_match_torch_formulas(make, ref, dtype):
    rng = np.random.default_rng(0)
    p0 = rng.normal(size=(5, 7))
    grads = [rng.normal(size=(5, 7)) for _ in range(6)]
    got = _run(make(), p0.astype(dtype), [g.astype(dtype) for g in grads])
    want = ref(p0, grads)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got, want, **tol)
    assert got.dtype == dtype


@pytest.mark.parametrize("name,kw", [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-8, momentum=0.3, weight_decay=0.02)),
    ("Adam", dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05)),
    ("AdamW", dict(lr=0.01, betas=(0.85, 0.99), eps=1e-8, weight_decay=0.1)),
])
def test_update_rules_match_torch(name, kw):
    torch = torch_or_skip()
    rng = np.random.default_rng(1)
    p0 = rng.normal(size=(4, 6))
    grads = [rng.normal(size=(4, 6)) for _ in range(5)]
    tp = torch.tensor(p0.copy(), requires_grad=True)
    topt = getattr(torch.optim, name)([tp], **kw)
    for g in grads:
        topt.zero_grad()
        tp.grad = torch.tensor(g)
        topt.step()
    ours = {"SGD": lambda: nf.optimizers.SGD(kw["lr"], momentum=kw["momentum"], nesterov=True,
                                             weight_decay=kw["weight_decay"]),
            "RMSprop": lambda: nf.optimizers.RMSprop(kw["lr"], rho=kw["alpha"], epsilon=kw["eps"],
                                                     momentum=kw["momentum"],
                                                     weight_decay=kw["weight_decay"]),
            "Adam": lambda: nf.optimizers.Adam(kw["lr"], *kw["betas"], kw["eps"], kw["weight_decay"]),
            "AdamW": lambda: nf.optimizers.AdamW(kw["lr"], *kw["betas"], kw["eps"],
                                                 kw["weight_decay"])}[name]()
    np.testing.assert_allclose(_run(ours, p0, grads), tp.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_clipnorm_is_per_tensor():
    a, b = np.zeros(2), np.zeros(3)
    ga, gb = np.array([3.0, 4.0]), np.array([0.1, 0.0, 0.0])
    nf.optimizers.SGD(1.0, clipnorm=1.0).apply_gradients([(ga, a), (gb, b)])
    np.testing.assert_allclose(a, [-0.6, -0.8])        # norm 5 scaled to 1
    np.testing.assert_allclose(b, [-0.1, 0.0, 0.0])    # under the limit: unchanged
    np.testing.assert_array_equal(ga, [3.0, 4.0])      # the caller's gradient is not modified


def test_clipvalue_and_global_clipnorm():
    a = np.zeros(3)
    nf.optimizers.SGD(1.0, clipvalue=0.5).apply_gradients([(np.array([2.0, -0.2, -3.0]), a)])
    np.testing.assert_allclose(a, [-0.5, 0.2, 0.5])
    a, b = np.zeros(1), np.zeros(1)
    nf.optimizers.SGD(1.0, global_clipnorm=1.0).apply_gradients(
        [(np.array([3.0]), a), (np.array([4.0]), b)])
    coef = 1.0 / (5.0 + 1e-6)  # torch.nn.utils.clip_grad_norm_
    np.testing.assert_allclose([a[0], b[0]], [-3.0 * coef, -4.0 * coef])


def test_clipping_in_a_model_step_equals_clipping_each_tensor():
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(16, 3)) * 10, rng.normal(size=16) * 10
    model = nf.Sequential([nf.layers.Dense(4), nf.layers.Dense(1)], input_dim=3, dtype="float64", seed=0)
    model.compile(nf.optimizers.SGD(0.1, clipnorm=0.5), "mse")
    before = model.get_weights()
    _, grads = model.compute_gradients(X, y)
    model.train_on_batch(X, y)
    after = model.get_weights()
    for w0, w1, g in zip(before, after, grads):
        norm = np.linalg.norm(g)
        np.testing.assert_allclose(w1, w0 - 0.1 * g * min(1.0, 0.5 / norm), rtol=1e-12, atol=1e-14)


def test_only_one_clipping_option():
    with pytest.raises(ValueError, match="at most one"):
        nf.optimizers.Adam(clipnorm=1.0, clipvalue=0.5)
    with pytest.raises(ValueError, match="clipnorm"):
        nf.optimizers.SGD(clipnorm=0.0)


def test_schedule_as_learning_rate():
    sched = nf.schedules.StepDecay(1.0, step_size=2, gamma=0.5)
    opt = nf.optimizers.SGD(sched)
    w = np.zeros(1)
    lrs = []
    for _ in range(5):
        lrs.append(opt.current_learning_rate())
        opt.apply_gradients([(np.ones(1), w)])
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.25]
    assert w[0] == pytest.approx(-sum(lrs))
    assert opt.iterations == 5


def test_lr_multiplier_composes_with_schedules_and_setting_lr_resets_it():
    opt = nf.optimizers.Adam(nf.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5))
    opt.iterations = 2
    opt.lr_multiplier = 0.1
    assert opt.current_learning_rate() == pytest.approx(0.1 * 0.25 * 0.1)
    opt.learning_rate = 0.3
    assert opt.lr_multiplier == 1.0 and opt.current_learning_rate() == 0.3


def test_cosine_decay_schedule_drives_a_model():
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(20, 2)), rng.normal(size=20)
    sched = nf.schedules.CosineDecay(0.1, decay_steps=4, warmup_steps=2)
    model = nf.Sequential([nf.layers.Dense(1)], input_dim=2, seed=0)
    model.compile(nf.optimizers.SGD(sched), "mse")
    hist = model.fit(X, y, epochs=3, batch_size=10, verbose=0)
    assert model.optimizer.iterations == 6
    assert hist.history["lr"] == pytest.approx([sched(2), sched(4), sched(6)])


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_bad_learning_rates(bad):
    with pytest.raises(ValueError, match="learning_rate"):
        nf.optimizers.Adam(learning_rate=bad)
    opt = nf.optimizers.SGD()
    with pytest.raises(ValueError, match="learning_rate"):
        opt.learning_rate = bad


def test_bad_hyperparameters_name_the_argument():
    with pytest.raises(ValueError, match="beta_1"):
        nf.optimizers.Adam(beta_1=1.0)
    with pytest.raises(ValueError, match="momentum"):
        nf.optimizers.SGD(momentum=-0.1)
    with pytest.raises(ValueError, match="nesterov"):
        nf.optimizers.SGD(nesterov=True)
    with pytest.raises(ValueError, match="rho"):
        nf.optimizers.RMSprop(rho=1.5)
    with pytest.raises(TypeError, match="learning_rate"):
        nf.optimizers.SGD(learning_rate="fast")


def test_names_and_config_round_trip():
    for name, cls in [("sgd", "SGD"), ("rmsprop", "RMSprop"), ("adam", "Adam"), ("ADAMW", "AdamW")]:
        assert type(nf.optimizers.get(name)).__name__ == cls
    with pytest.raises(ValueError, match="sgd, rmsprop, adam, adamw"):
        nf.optimizers.get("adagrad")
    opt = nf.optimizers.AdamW(nf.schedules.CosineDecay(0.01, 100), beta_1=0.8, global_clipnorm=2.0)
    same = nf.optimizers.deserialize(nf.optimizers.serialize(opt))
    assert same.get_config() == opt.get_config()


def test_flat_step_over_frozen_layers_leaves_them_alone():
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(32, 4)), rng.integers(0, 3, size=32)
    model = nf.Sequential([nf.layers.Dense(5, activation="relu"), nf.layers.Dense(4),
                           nf.layers.Dense(3, activation="softmax")], input_dim=4, seed=0)
    model.layers[1].trainable = False
    model.compile("adam", "sparse_categorical_crossentropy")
    before = model.get_weights()
    model.fit(X, y, epochs=2, batch_size=8, verbose=0)
    after = model.get_weights()
    for i in (2, 3):
        np.testing.assert_array_equal(before[i], after[i])
    for i in (0, 1, 4, 5):
        assert not np.array_equal(before[i], after[i])
    assert model._store.trainable_runs([True, False, True]) == [(0, 25), (49, 64)]
