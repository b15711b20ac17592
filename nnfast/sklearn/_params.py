"""Validation of the estimators' constructor parameters (done in ``fit``, as scikit-learn asks).

:func:`check_params` reads an estimator's parameters and returns them checked and resolved in a
:class:`Config`, or raises an :class:`InvalidParameterError` (a ValueError and a TypeError)
that names the parameter, says what was expected and shows what was received.
"""

import numbers
from dataclasses import dataclass

import numpy as np

__all__ = ["Config", "InvalidParameterError", "check_params", "ACTIVATIONS", "SOLVERS",
           "LEARNING_RATES"]

# scikit-learn's activation names and nnfast's own (same meaning) -> the nnfast name.
ACTIVATIONS = {
    "identity": "linear", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu",
    "linear": "linear", "sigmoid": "sigmoid", "leaky_relu": "leaky_relu", "elu": "elu",
    "gelu": "gelu", "swish": "swish", "silu": "swish", "softplus": "softplus",
}
SOLVERS = ("adam", "adamw", "sgd", "rmsprop", "lbfgs")
LEARNING_RATES = ("constant", "invscaling", "adaptive")  # schedules of solver="sgd"


@dataclass(frozen=True)
class Config:
    """The checked parameters of one ``fit`` / ``partial_fit`` call."""

    hidden: tuple
    activation: str
    solver: str
    alpha: float
    batch_size: object  # "auto" or int
    learning_rate: str
    learning_rate_init: float
    power_t: float
    max_iter: int
    shuffle: bool
    tol: float
    verbose: bool
    warm_start: bool
    momentum: float
    nesterovs_momentum: bool
    early_stopping: bool
    validation_fraction: float
    beta_1: float
    beta_2: float
    epsilon: float
    n_iter_no_change: int
    max_fun: int
    dropout: float
    batch_norm: bool
    dtype: object  # "auto" or a numpy float dtype


class InvalidParameterError(ValueError, TypeError):
    """A constructor parameter of the wrong type or out of range (raised by ``fit``).

    Both a ValueError and a TypeError, as scikit-learn's own ``InvalidParameterError``, so code
    that catches either (or scikit-learn's estimator checks) handles it.
    """


def _fail(name, expected, value):
    raise InvalidParameterError(f"Expected {name} {expected}, received: {name}={value!r}")


def _real(value, name, low, high=None, low_open=False, high_open=False):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        _fail(name, "to be a real number", value)
    x = float(value)
    bad = not np.isfinite(x) or x < low or (low_open and x == low)
    bad = bad or (high is not None and (x > high or (high_open and x == high)))
    if bad:
        hi = "inf)" if high is None else f"{high}{')' if high_open else ']'}"
        _fail(name, f"in {'(' if low_open else '['}{low}, {hi}", value)
    return x


def _int(value, name, low):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        _fail(name, "to be an integer", value)
    if value < low:
        _fail(name, f">= {low}", value)
    return int(value)


def _bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        _fail(name, "to be a bool", value)
    return bool(value)


def _hidden(value):
    name = "hidden_layer_sizes"
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        value = (value,)
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        _fail(name, "to be an int or a sequence of positive ints", value)
    sizes = tuple(value)
    for size in sizes:
        if isinstance(size, (bool, np.bool_)) or not isinstance(size, numbers.Integral):
            _fail(name, "to be a sequence of positive ints", value)
        if size < 1:
            _fail(name, "to hold sizes >= 1", value)
    return tuple(int(s) for s in sizes)


def _choice(value, name, options):
    if not isinstance(value, str) or value not in options:
        _fail(name, f"in {tuple(options)}", value)
    return value


def _dtype(value):
    if isinstance(value, str) and value == "auto":
        return "auto"
    try:
        dtype = np.dtype(value) if value is not None else None
    except TypeError:
        dtype = None
    if dtype is None or dtype not in (np.float32, np.float64):
        _fail("dtype", "in ('auto', 'float32', 'float64')", value)
    return dtype


def _batch_size(value):
    if isinstance(value, str) and value == "auto":
        return "auto"
    if isinstance(value, str):
        _fail("batch_size", "to be 'auto' or an integer >= 1", value)
    return _int(value, "batch_size", 1)


def check_params(est):
    """The parameters of ``est`` checked and resolved: a :class:`Config`.

    Examples
    --------
    >>> from nnfast.sklearn import MLPRegressor
    >>> check_params(MLPRegressor(hidden_layer_sizes=8, activation="logistic")).hidden
    (8,)
    >>> check_params(MLPRegressor(alpha=-1.0))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    nnfast.sklearn._params.InvalidParameterError: Expected alpha in [0.0, inf), received: ...
    """
    cfg = Config(
        hidden=_hidden(est.hidden_layer_sizes),
        activation=ACTIVATIONS[_choice(est.activation, "activation", ACTIVATIONS)],
        solver=_choice(est.solver, "solver", SOLVERS),
        alpha=_real(est.alpha, "alpha", 0.0),
        batch_size=_batch_size(est.batch_size),
        learning_rate=_choice(est.learning_rate, "learning_rate", LEARNING_RATES),
        learning_rate_init=_real(est.learning_rate_init, "learning_rate_init", 0.0, low_open=True),
        power_t=_real(est.power_t, "power_t", 0.0),
        max_iter=_int(est.max_iter, "max_iter", 1),
        shuffle=_bool(est.shuffle, "shuffle"),
        tol=_real(est.tol, "tol", 0.0),
        verbose=bool(_int(int(est.verbose) if isinstance(est.verbose, (bool, np.bool_))
                          else est.verbose, "verbose", 0)),
        warm_start=_bool(est.warm_start, "warm_start"),
        momentum=_real(est.momentum, "momentum", 0.0, 1.0),
        nesterovs_momentum=_bool(est.nesterovs_momentum, "nesterovs_momentum"),
        early_stopping=_bool(est.early_stopping, "early_stopping"),
        validation_fraction=_real(est.validation_fraction, "validation_fraction", 0.0, 1.0,
                                  high_open=True),
        beta_1=_real(est.beta_1, "beta_1", 0.0, 1.0, high_open=True),
        beta_2=_real(est.beta_2, "beta_2", 0.0, 1.0, high_open=True),
        epsilon=_real(est.epsilon, "epsilon", 0.0, low_open=True),
        n_iter_no_change=_int(est.n_iter_no_change, "n_iter_no_change", 1),
        max_fun=_int(est.max_fun, "max_fun", 1),
        dropout=_real(est.dropout, "dropout", 0.0, 1.0, high_open=True),
        batch_norm=_bool(est.batch_norm, "batch_norm"),
        dtype=_dtype(est.dtype),
    )
    if cfg.solver == "lbfgs" and (cfg.dropout > 0.0 or cfg.batch_norm):
        _fail("solver", "to be a stochastic one ('adam', 'adamw', 'sgd', 'rmsprop') with "
              "dropout or batch_norm (lbfgs needs a deterministic full-batch loss)", cfg.solver)
    return cfg
