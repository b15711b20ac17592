"""Weight initializers: objects that draw a parameter array from a seeded generator.

Every initializer is callable as ``init(shape, dtype, rng) -> ndarray`` where ``rng`` is a
:class:`numpy.random.Generator` owned by the model (so a seed makes a run reproducible), and
has ``get_config()``. The variance-scaling family follows Keras's formulas: for a Dense kernel
of shape ``(in, out)``, ``fan_in = in`` and ``fan_out = out``; "normal" initializers draw a
normal truncated at two standard deviations, with the standard deviation divided by
0.87962566103423978 (the standard deviation of a unit normal truncated to [-2, 2]) so that the
variance of the result is the requested one.

>>> import numpy as np
>>> import nnfast.initializers as ini
>>> w = ini.get("he_normal")((64, 32), np.float32, np.random.default_rng(0))
>>> w.shape, w.dtype
((64, 32), dtype('float32'))
"""

import math
import numbers

import numpy as np

__all__ = [
    "Initializer", "Zeros", "Ones", "Constant", "VarianceScaling", "GlorotUniform",
    "GlorotNormal", "HeNormal", "HeUniform", "LecunNormal", "compute_fans", "get",
    "serialize", "deserialize",
]

# Standard deviation of a unit normal truncated to [-2, 2] (as Keras).
TRUNCATED_STDDEV_FACTOR = 0.87962566103423978


def _shape(shape):
    if type(shape) is tuple and all(type(d) is int and d >= 0 for d in shape):
        return shape  # the layers' own shapes: no ABC checks (~1 us against ~5)
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(f"Expected shape to be a tuple of ints, received: shape={shape!r}") from None
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 0:
            raise ValueError(f"Expected shape to hold non-negative ints, received: shape={shape!r}")
    return tuple(int(d) for d in dims)


def _dtype(dtype):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"Expected dtype to be a float dtype, received: dtype={dtype!r}") from None
    if dt.kind != "f":
        raise TypeError(f"Expected dtype to be a float dtype (float32 or float64), received: dtype={dt}")
    return dt


def _rng(rng):
    if rng is None:
        return np.random.default_rng()
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"Expected rng to be a numpy.random.Generator, received: rng={type(rng).__name__}"
        )
    return rng


def compute_fans(shape):
    """``(fan_in, fan_out)`` of a weight of ``shape``, as Keras computes them.

    ``()`` gives (1, 1); ``(n,)`` gives (n, n); ``(in, out)`` gives (in, out); higher ranks
    (convolution kernels ``(*receptive_field, in, out)``) multiply both by the receptive field.

    >>> compute_fans((784, 256))
    (784, 256)
    """
    shape = _shape(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class: ``init(shape, dtype, rng) -> ndarray`` plus ``get_config()``.

    Subclasses implement ``_draw(shape, dtype, rng)``; the base validates the arguments and
    converts to ``dtype``. A fresh array is returned on every call.

    Examples
    --------
    >>> import numpy as np
    >>> class Arange(Initializer):
    ...     def _draw(self, shape, dtype, rng):
    ...         return np.arange(np.prod(shape)).reshape(shape)
    >>> Arange()((2, 2), "float32")
    array([[0., 1.],
           [2., 3.]], dtype=float32)
    """

    def __call__(self, shape, dtype="float32", rng=None):
        shape, dt, rng = _shape(shape), _dtype(dtype), _rng(rng)
        return np.asarray(self._draw(shape, dt, rng), dtype=dt)

    def _draw(self, shape, dtype, rng):  # pragma: no cover - abstract
        raise NotImplementedError

    def get_config(self):
        """The constructor arguments as a JSON-serializable dict."""
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Constant(Initializer):
    """Every entry equal to ``value``.

    >>> Constant(0.5)((2,), "float64")
    array([0.5, 0.5])
    """

    def __init__(self, value=0.0):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise ValueError(f"Expected value to be a finite real number, received: value={value!r}")
        self.value = float(value)

    def _draw(self, shape, dtype, rng):
        return np.full(shape, self.value, dtype=dtype)

    def get_config(self):
        return {"value": self.value}


class Zeros(Constant):
    """All zeros (the default bias initializer).

    >>> Zeros()((3,), "float32")
    array([0., 0., 0.], dtype=float32)
    """

    def __init__(self):
        super().__init__(0.0)

    def get_config(self):
        return {}


class Ones(Constant):
    """All ones (the default BatchNormalization gamma).

    >>> Ones()((2,), "float64")
    array([1., 1.])
    """

    def __init__(self):
        super().__init__(1.0)

    def get_config(self):
        return {}


_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")


class VarianceScaling(Initializer):
    """Draws with variance ``scale / fan`` (fan chosen by ``mode``), as Keras.

    ``uniform``: U(-limit, limit) with ``limit = sqrt(3 * scale / fan)``.
    ``truncated_normal``: N(0, stddev) truncated to ±2·stddev, ``stddev = sqrt(scale / fan) /
    0.87962566103423978``. ``untruncated_normal``: N(0, sqrt(scale / fan)). ``fan`` is
    ``max(1, fan_in)``, ``max(1, fan_out)`` or ``max(1, (fan_in + fan_out) / 2)``.

    Parameters
    ----------
    scale : float, optional
        Positive scaling factor. Defaults to 1.0.
    mode : {"fan_in", "fan_out", "fan_avg"}, optional
        Defaults to "fan_in".
    distribution : {"truncated_normal", "untruncated_normal", "uniform"}, optional
        Defaults to "truncated_normal".

    >>> import numpy as np
    >>> w = VarianceScaling(2.0, "fan_in", "uniform")((100, 10), "float64", np.random.default_rng(0))
    >>> bool(np.abs(w).max() <= np.sqrt(3 * 2.0 / 100))
    True
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal"):
        if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not (0 < scale < math.inf):
            raise ValueError(f"Expected scale to be a positive real number, received: scale={scale!r}")
        if mode not in _MODES:
            raise ValueError(f"Expected mode to be one of {list(_MODES)}, received: mode={mode!r}")
        if distribution == "normal":  # Keras's old spelling
            distribution = "truncated_normal"
        if distribution not in _DISTRIBUTIONS:
            raise ValueError(
                f"Expected distribution to be one of {list(_DISTRIBUTIONS)}, "
                f"received: distribution={distribution!r}"
            )
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def _variance(self, shape):
        fan_in, fan_out = compute_fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        return self.scale / max(1.0, fan)

    def _draw(self, shape, dtype, rng):
        variance = self._variance(shape)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, size=shape)
        if self.distribution == "untruncated_normal":
            return rng.normal(0.0, math.sqrt(variance), size=shape)
        stddev = math.sqrt(variance) / TRUNCATED_STDDEV_FACTOR
        return stddev * _truncated_standard_normal(shape, rng)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution}


def _truncated_standard_normal(shape, rng, bound=2.0):
    """Unit normal draws restricted to [-bound, bound] by redrawing the ones outside."""
    z = rng.standard_normal(size=shape)
    flat = z.reshape(-1)
    bad = np.flatnonzero(np.abs(flat) > bound)
    while bad.size:  # about 4.6% per round: a few rounds at most
        flat[bad] = rng.standard_normal(size=bad.size)
        bad = bad[np.abs(flat[bad]) > bound]
    return z


class _Named(VarianceScaling):
    """A VarianceScaling with fixed arguments: its config is empty."""

    _ARGS = (1.0, "fan_in", "truncated_normal")

    def __init__(self):
        super().__init__(*self._ARGS)

    def get_config(self):
        return {}


class GlorotUniform(_Named):
    """U(-limit, limit), ``limit = sqrt(6 / (fan_in + fan_out))`` (Xavier uniform).

    >>> import numpy as np
    >>> GlorotUniform()((3, 3), "float32", np.random.default_rng(0)).dtype
    dtype('float32')
    """

    _ARGS = (1.0, "fan_avg", "uniform")


class GlorotNormal(_Named):
    """Truncated normal, ``stddev = sqrt(2 / (fan_in + fan_out)) / 0.8796...`` (Xavier normal).

    >>> import numpy as np
    >>> GlorotNormal()((3, 3), "float64", np.random.default_rng(0)).shape
    (3, 3)
    """

    _ARGS = (1.0, "fan_avg", "truncated_normal")


class HeNormal(_Named):
    """Truncated normal, ``stddev = sqrt(2 / fan_in) / 0.8796...`` (Kaiming normal, for ReLU).

    >>> import numpy as np
    >>> HeNormal()((3, 3), "float64", np.random.default_rng(0)).shape
    (3, 3)
    """

    _ARGS = (2.0, "fan_in", "truncated_normal")


class HeUniform(_Named):
    """U(-limit, limit), ``limit = sqrt(6 / fan_in)`` (Kaiming uniform).

    >>> import numpy as np
    >>> HeUniform()((3, 3), "float64", np.random.default_rng(0)).shape
    (3, 3)
    """

    _ARGS = (2.0, "fan_in", "uniform")


class LecunNormal(_Named):
    """Truncated normal, ``stddev = sqrt(1 / fan_in) / 0.8796...`` (for SELU networks).

    >>> import numpy as np
    >>> LecunNormal()((3, 3), "float64", np.random.default_rng(0)).shape
    (3, 3)
    """

    _ARGS = (1.0, "fan_in", "truncated_normal")


_BY_NAME = {
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_normal": HeNormal,
    "he_uniform": HeUniform,
    "lecun_normal": LecunNormal,
    "zeros": Zeros,
    "ones": Ones,
}
_CLASSES = {cls.__name__: cls for cls in (
    Zeros, Ones, Constant, VarianceScaling, GlorotUniform, GlorotNormal, HeNormal, HeUniform,
    LecunNormal,
)}


def get(identifier):
    """An initializer from a name, an initializer object, a config dict or any callable.

    Parameters
    ----------
    identifier : str, Initializer, dict or callable
        A name (``glorot_uniform``, ``glorot_normal``, ``he_normal``, ``he_uniform``,
        ``lecun_normal``, ``zeros``, ``ones``), an object (returned as is), a dict from
        :func:`serialize`, or a callable ``f(shape, dtype, rng) -> ndarray`` (returned as is).

    Returns
    -------
    callable

    >>> get("he_uniform")
    HeUniform()
    """
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _BY_NAME:
            raise ValueError(
                f"Expected an initializer name in {sorted(_BY_NAME)}, received: {identifier!r}"
            )
        return _BY_NAME[key]()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise TypeError(
        "Expected an initializer name, object or callable, "
        f"received: {type(identifier).__name__} {identifier!r}"
    )


def serialize(init):
    """A JSON-serializable description: the name for strings, ``{"class_name", "config"}``.

    Custom callables cannot be serialized (ValueError).

    >>> serialize(HeNormal())
    {'class_name': 'HeNormal', 'config': {}}
    """
    if isinstance(init, str):
        get(init)  # validates the name
        return init.lower()
    if isinstance(init, Initializer) and type(init).__name__ in _CLASSES:
        return {"class_name": type(init).__name__, "config": init.get_config()}
    raise ValueError(
        "Expected a built-in initializer or its name to serialize, "
        f"received: {type(init).__name__} {init!r}"
    )


def deserialize(config):
    """The inverse of :func:`serialize` (a name or a ``{"class_name", "config"}`` dict).

    >>> deserialize({"class_name": "GlorotUniform", "config": {}})
    GlorotUniform()
    """
    if isinstance(config, str):
        return get(config)
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            'Expected an initializer name or a dict with "class_name" and "config", '
            f"received: {config!r}"
        )
    cls = _CLASSES.get(config["class_name"])
    if cls is None:
        raise ValueError(
            f"Expected class_name in {sorted(_CLASSES)}, received: class_name={config['class_name']!r}"
        )
    return cls.from_config(dict(config.get("config") or {}))
