"""Initializers: statistics of large draws, truncation bounds, seeding, dtype, get/serialize."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import nnfast.initializers as ini

SHAPE = (500, 300)  # fan_in 500, fan_out 300; 150,000 draws
FAN_IN, FAN_OUT = SHAPE

# name -> (class, expected variance, distribution)
EXPECTED = {
    "glorot_uniform": (ini.GlorotUniform, 2.0 / (FAN_IN + FAN_OUT), "uniform"),
    "glorot_normal": (ini.GlorotNormal, 2.0 / (FAN_IN + FAN_OUT), "truncated"),
    "he_normal": (ini.HeNormal, 2.0 / FAN_IN, "truncated"),
    "he_uniform": (ini.HeUniform, 2.0 / FAN_IN, "uniform"),
    "lecun_normal": (ini.LecunNormal, 1.0 / FAN_IN, "truncated"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_mean_and_variance_of_a_large_draw(name):
    cls, var, kind = EXPECTED[name]
    w = cls()(SHAPE, np.float64, np.random.default_rng(123))
    n = w.size
    # sample mean: standard error sqrt(var / n); allow 5 of them
    assert abs(w.mean()) < 5 * math.sqrt(var / n)
    # sample variance: relative standard error about sqrt(2 / n) (less for uniform); allow 2%
    assert w.var() == pytest.approx(var, rel=0.02)
    if kind == "uniform":
        limit = math.sqrt(3 * var)
        assert np.abs(w).max() <= limit
        assert np.abs(w).max() > 0.999 * limit  # the draw reaches the bound
    else:
        stddev = math.sqrt(var) / 0.87962566103423978
        assert np.abs(w).max() <= 2 * stddev  # truncated at two standard deviations
        assert np.abs(w).max() > 1.99 * stddev
        # the fraction near the bounds matches a truncated, not a clipped, normal
        assert np.mean(np.abs(w) > 1.9 * stddev) < 0.02


def test_truncated_normal_variance_correction_factor():
    # The factor is the standard deviation of a unit normal truncated to [-2, 2].
    phi2 = math.exp(-2.0) / math.sqrt(2 * math.pi)
    mass = math.erf(2 / math.sqrt(2))
    assert math.sqrt(1 - 2 * 2 * phi2 / mass) == pytest.approx(ini.TRUNCATED_STDDEV_FACTOR, rel=1e-12)


@pytest.mark.parametrize("name", sorted(EXPECTED) + ["zeros", "ones"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept_and_shape_is_exact(name, dtype):
    w = ini.get(name)((7, 3), dtype, np.random.default_rng(0))
    assert w.dtype == dtype and w.shape == (7, 3)
    assert w.flags.c_contiguous and w.flags.writeable
    assert ini.get(name)((4,), np.dtype(dtype).name, np.random.default_rng(0)).dtype == dtype


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_seeded_draws_are_reproducible(name):
    init = ini.get(name)
    a = init((64, 32), np.float32, np.random.default_rng(42))
    b = init((64, 32), np.float32, np.random.default_rng(42))
    c = init((64, 32), np.float32, np.random.default_rng(43))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # float32 and float64 draws from the same seed agree to float32 rounding
    d = init((64, 32), np.float64, np.random.default_rng(42))
    np.testing.assert_allclose(a, d, rtol=1e-6, atol=1e-9)


def test_draws_consume_the_generator():
    rng = np.random.default_rng(5)
    a = ini.HeNormal()((10, 10), np.float64, rng)
    b = ini.HeNormal()((10, 10), np.float64, rng)
    assert not np.array_equal(a, b)


def test_constants():
    np.testing.assert_array_equal(ini.Zeros()((2, 3), np.float32), np.zeros((2, 3), np.float32))
    np.testing.assert_array_equal(ini.Ones()((4,), np.float64), np.ones(4))
    np.testing.assert_array_equal(ini.Constant(0.25)((3,), np.float32), np.full(3, 0.25, np.float32))
    assert ini.get("zeros")((0, 5), np.float32).shape == (0, 5)


@pytest.mark.parametrize("shape, fans", [((), (1, 1)), ((5,), (5, 5)), ((3, 4), (3, 4)),
                                         ((3, 3, 8, 16), (72, 144)), (6, (6, 6))])
def test_compute_fans(shape, fans):
    assert ini.compute_fans(shape) == fans


def test_variance_scaling_modes():
    rng = np.random.default_rng(0)
    w = ini.VarianceScaling(3.0, "fan_out", "untruncated_normal")((200, 400), np.float64, rng)
    assert w.var() == pytest.approx(3.0 / 400, rel=0.03)
    assert np.abs(w).max() > 2 * math.sqrt(3.0 / 400)  # not truncated
    u = ini.VarianceScaling(1.0, "fan_avg", "uniform")((100, 300), np.float64, rng)
    assert np.abs(u).max() <= math.sqrt(3.0 / 200)


@given(shape=st.lists(st.integers(0, 9), min_size=0, max_size=3).map(tuple),
       name=st.sampled_from(sorted(EXPECTED)), seed=st.integers(0, 2**32 - 1))
def test_bounds_hold_for_any_shape(shape, name, seed):
    cls, _, kind = EXPECTED[name]
    init = cls()
    w = init(shape, np.float32, np.random.default_rng(seed))
    assert w.shape == shape and w.dtype == np.float32
    fan_in, fan_out = ini.compute_fans(shape)
    fan = {"glorot_uniform": (fan_in + fan_out) / 2, "glorot_normal": (fan_in + fan_out) / 2}.get(name, fan_in)
    scale = 2.0 if name.startswith("he") else 1.0
    var = scale / max(1.0, fan)
    bound = math.sqrt(3 * var) if kind == "uniform" else 2 * math.sqrt(var) / 0.87962566103423978
    assert np.all(np.abs(w) <= np.float32(bound) * (1 + 1e-6))


# --------------------------------------------------------------------------- get / serialize

def test_get_accepts_names_objects_and_callables():
    for name, (cls, _, _) in EXPECTED.items():
        assert type(ini.get(name)) is cls
        assert type(ini.get(name.upper())) is cls
    assert type(ini.get("zeros")) is ini.Zeros and type(ini.get("ones")) is ini.Ones
    obj = ini.HeUniform()
    assert ini.get(obj) is obj

    def custom(shape, dtype, rng):
        return np.full(shape, 3.0, dtype)

    assert ini.get(custom) is custom


def test_get_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="Expected an initializer name") as info:
        ini.get("xavier")
    for name in ("glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "lecun_normal",
                 "zeros", "ones"):
        assert name in str(info.value)
    assert "xavier" in str(info.value)
    with pytest.raises(TypeError, match="Expected an initializer"):
        ini.get(3)


@pytest.mark.parametrize("init", [ini.GlorotUniform(), ini.GlorotNormal(), ini.HeNormal(), ini.HeUniform(),
                                  ini.LecunNormal(), ini.Zeros(), ini.Ones(), ini.Constant(0.5),
                                  ini.VarianceScaling(2.0, "fan_avg", "uniform"), "he_normal"],
                         ids=repr)
def test_serialize_round_trip_through_json(init):
    cfg = json.loads(json.dumps(ini.serialize(init)))
    back = ini.deserialize(cfg)
    original = ini.get(init)
    assert type(back) is type(original) and back.get_config() == original.get_config()
    a = original((20, 10), np.float64, np.random.default_rng(1))
    b = back((20, 10), np.float64, np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)


def test_serialize_rejects_custom_callables_and_bad_configs():
    with pytest.raises(ValueError, match="built-in initializer"):
        ini.serialize(lambda shape, dtype, rng: np.zeros(shape, dtype))
    with pytest.raises(ValueError, match="class_name"):
        ini.deserialize({"class_name": "Orthogonal", "config": {}})
    with pytest.raises(ValueError, match="class_name"):
        ini.deserialize(42)


# --------------------------------------------------------------------------- errors

@pytest.mark.parametrize("call, exc, name", [
    (lambda: ini.HeNormal()((3, -1), np.float32, np.random.default_rng()), ValueError, "shape"),
    (lambda: ini.HeNormal()((3, 2.5), np.float32, np.random.default_rng()), ValueError, "shape"),
    (lambda: ini.HeNormal()("ab", np.float32, np.random.default_rng()), ValueError, "shape"),
    (lambda: ini.HeNormal()((3, 2), np.int32, np.random.default_rng()), TypeError, "dtype"),
    (lambda: ini.HeNormal()((3, 2), "not-a-dtype", np.random.default_rng()), TypeError, "dtype"),
    (lambda: ini.HeNormal()((3, 2), np.float32, 42), TypeError, "rng"),
    (lambda: ini.VarianceScaling(-1.0), ValueError, "scale"),
    (lambda: ini.VarianceScaling(1.0, mode="fan_sum"), ValueError, "mode"),
    (lambda: ini.VarianceScaling(1.0, distribution="cauchy"), ValueError, "distribution"),
    (lambda: ini.Constant(float("inf")), ValueError, "value"),
])
def test_bad_arguments_name_the_argument(call, exc, name):
    with pytest.raises(exc, match=rf"Expected {name}\b.*received: {name}"):
        call()
