"""Weight regularizers: penalties added to the loss, and their gradients.

A :class:`Regularizer` has ``penalty(w) -> float`` (``l1·Σ|W| + l2·ΣW²``) and
``add_gradient(w, grad)``, which adds d penalty / dW (``l1·sign(W) + 2·l2·W``) into ``grad``
in place. The model calls ``penalty`` to report the regularized loss and ``add_gradient``
after the backward pass, before the optimizer step.

Both run compiled kernels of ``csrc/nnf_optim.c`` on float32/float64 arrays: the sums
``Σ|W|`` and ``ΣW²`` accumulate in double in an order fixed by the size alone (never by the
thread count), and the gradient terms are one scale-add and one add-sign pass. The compiled
training plan (``nnfast._plan``) calls the same kernels, so both give the same bits.

>>> import numpy as np
>>> import nnfast.regularizers as reg
>>> r = reg.l2(0.5)
>>> w = np.array([1.0, -2.0])
>>> r.penalty(w)
2.5
>>> g = np.zeros(2)
>>> r.add_gradient(w, g)
array([ 1., -2.])
"""

import math
import numbers

import numpy as np

from nnfast._kernels import optim as _k
from nnfast._threads import num_threads

__all__ = ["Regularizer", "L1L2", "L1", "L2", "l1", "l2", "l1_l2", "get", "serialize", "deserialize"]


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _strength(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"Expected {name} to be a real number, received: {name}={value!r}")
    v = float(value)
    if not (0.0 <= v < math.inf):
        raise ValueError(f"Expected {name} >= 0 and finite, received: {name}={value!r}")
    return v


def _check_pair(w, grad):
    if not isinstance(w, np.ndarray) or not isinstance(grad, np.ndarray):
        raise TypeError(
            "Expected w and grad to be numpy arrays, "
            f"received: w={type(w).__name__}, grad={type(grad).__name__}"
        )
    if w.shape != grad.shape:
        raise ValueError(
            f"Expected w and grad to have the same shape, received: w.shape={w.shape}, "
            f"grad.shape={grad.shape}"
        )


class Regularizer:
    """Base class: ``penalty(w)``, ``add_gradient(w, grad)``, ``get_config()``.

    Calling the object is the same as ``penalty``. The base class adds nothing.

    Examples
    --------
    >>> import numpy as np
    >>> Regularizer().penalty(np.ones(3))
    0.0
    """

    def penalty(self, w):
        """The penalty added to the loss for weight ``w`` (a Python float)."""
        return 0.0

    def add_gradient(self, w, grad, scratch=None):
        """Add d penalty / dw into ``grad`` in place (same shape as ``w``); returns ``grad``."""
        _check_pair(w, grad)
        return grad

    def __call__(self, w):
        return self.penalty(w)

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class L1L2(Regularizer):
    """``penalty = l1·Σ|W| + l2·ΣW²``; gradient ``l1·sign(W) + 2·l2·W``.

    The gradient of ``|W|`` at 0 is taken as 0 (the subgradient PyTorch and Keras use).

    Parameters
    ----------
    l1 : float, optional
        Non-negative L1 strength. Defaults to 0.0.
    l2 : float, optional
        Non-negative L2 strength. Defaults to 0.0.

    >>> import numpy as np
    >>> round(L1L2(l1=0.1, l2=0.01).penalty(np.array([3.0, -4.0])), 12)
    0.95
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _strength(l1, "l1")
        self.l2 = _strength(l2, "l2")

    def penalty(self, w):
        w = np.asarray(w)
        dtype = w.dtype if w.dtype in _FLOATS else np.float64
        flat = np.ascontiguousarray(w, dtype=dtype).reshape(-1)
        total = 0.0
        if flat.size == 0:
            return total
        nt = num_threads()
        if self.l1:
            total += self.l1 * _k.sum_abs(flat, nt)
        if self.l2:
            total += self.l2 * _k.sum_squares(flat, nt)
        return total

    def add_gradient(self, w, grad, scratch=None):
        """Add ``l1·sign(w) + 2·l2·w`` into ``grad`` in place; returns ``grad``.

        ``scratch``, when given, is a writable array of ``w``'s shape and dtype used as the
        temporary (so a training loop can allocate it once: it receives a copy of ``w`` when
        ``w`` is not a C-contiguous array of ``grad``'s dtype, or overlaps ``grad``); otherwise
        one is allocated when needed.
        """
        _check_pair(w, grad)
        if not (self.l1 or self.l2) or grad.size == 0:
            return grad
        if grad.dtype not in _FLOATS or not grad.flags.c_contiguous or not grad.flags.writeable:
            return self._add_gradient_numpy(w, grad, scratch)
        if w.dtype != grad.dtype or not w.flags.c_contiguous or np.may_share_memory(w, grad):
            if scratch is None or scratch.shape != w.shape or scratch.dtype != grad.dtype \
                    or not scratch.flags.c_contiguous or np.may_share_memory(scratch, grad):
                scratch = np.empty(w.shape, dtype=grad.dtype)
            np.copyto(scratch, w, casting="unsafe")
            w = scratch
        g, wf, nt = grad.reshape(-1), w.reshape(-1), num_threads()
        if self.l2:
            _k.scale_add(g, wf, 2.0 * self.l2, nt)
        if self.l1:
            _k.add_sign(g, wf, self.l1, nt)
        return grad

    def _add_gradient_numpy(self, w, grad, scratch):
        """``add_gradient`` for a gradient the kernels cannot take (not a C-contiguous float
        array): the same terms with NumPy."""
        if scratch is None or scratch.shape != w.shape or scratch.dtype != grad.dtype:
            scratch = np.empty(w.shape, dtype=grad.dtype)
        if self.l2:
            np.multiply(w, 2.0 * self.l2, out=scratch, casting="unsafe")
            grad += scratch
        if self.l1:
            np.sign(w, out=scratch, casting="unsafe")
            scratch *= self.l1
            grad += scratch
        return grad

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """``penalty = l1·Σ|W|``; gradient ``l1·sign(W)``.

    >>> import numpy as np
    >>> L1(0.5).penalty(np.array([1.0, -3.0]))
    2.0
    """

    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """``penalty = l2·ΣW²``; gradient ``2·l2·W``.

    >>> import numpy as np
    >>> L2(0.5).penalty(np.array([1.0, -3.0]))
    5.0
    """

    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


def l1(x=0.01):
    """An L1 regularizer: ``x·Σ|W|``. Defaults to 0.01 (as Keras).

    >>> l1(1e-3)
    L1(l1=0.001)
    """
    return L1(x)


def l2(x=0.01):
    """An L2 regularizer: ``x·ΣW²`` (gradient ``2x·W``). Defaults to 0.01 (as Keras).

    >>> l2(1e-4)
    L2(l2=0.0001)
    """
    return L2(x)


def l1_l2(l1=0.0, l2=0.0):
    """An L1 + L2 regularizer: ``l1·Σ|W| + l2·ΣW²``.

    >>> l1_l2(l1=0.01, l2=0.01)
    L1L2(l1=0.01, l2=0.01)
    """
    return L1L2(l1=l1, l2=l2)


_BY_NAME = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2}
_CLASSES = {cls.__name__: cls for cls in (Regularizer, L1L2, L1, L2)}


def get(identifier):
    """A regularizer from ``None`` (no regularizer), an object, a name or a config dict.

    Names ``"l1"``, ``"l2"`` and ``"l1_l2"`` use Keras's default strength 0.01 (both terms
    for ``l1_l2``).

    >>> get("l2")
    L2(l2=0.01)
    >>> get(None) is None
    True
    """
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _BY_NAME:
            raise ValueError(f"Expected a regularizer name in ['l1', 'l1_l2', 'l2'], received: {identifier!r}")
        return L1L2(0.01, 0.01) if _BY_NAME[key] is L1L2 else _BY_NAME[key]()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise TypeError(
        "Expected None, a Regularizer, a name or a config dict, "
        f"received: {type(identifier).__name__} {identifier!r}"
    )


def serialize(regularizer):
    """``{"class_name", "config"}`` for a regularizer (``None`` stays ``None``).

    >>> serialize(l2(0.5))
    {'class_name': 'L2', 'config': {'l2': 0.5}}
    """
    if regularizer is None:
        return None
    if isinstance(regularizer, str):
        regularizer = get(regularizer)
    if isinstance(regularizer, Regularizer) and type(regularizer).__name__ in _CLASSES:
        return {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}
    raise ValueError(
        f"Expected a built-in regularizer to serialize, received: {type(regularizer).__name__}"
    )


def deserialize(config):
    """The inverse of :func:`serialize` (``None``, a name or a dict).

    >>> deserialize({"class_name": "L1L2", "config": {"l1": 0.1, "l2": 0.2}})
    L1L2(l1=0.1, l2=0.2)
    """
    if config is None or isinstance(config, str):
        return get(config)
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f'Expected a dict with "class_name" and "config", received: {config!r}')
    cls = _CLASSES.get(config["class_name"])
    if cls is None:
        raise ValueError(
            f"Expected class_name in {sorted(_CLASSES)}, received: class_name={config['class_name']!r}"
        )
    return cls.from_config(dict(config.get("config") or {}))
