"""Activation functions by name: ``nf.activations.relu(x)``, ``nf.activations.get("gelu")``.

Each activation is an :class:`Activation` object (callable on an array) with a ``name``, a
``forward`` and a ``backward`` that run the compiled kernels of :mod:`nnfast.kernels`.
``backward`` takes what is cheapest: the forward output ``y`` for relu, leaky_relu (alpha 0.01),
elu (alpha 1.0), sigmoid, tanh, softplus and softmax, the input ``x`` for gelu (exact, erf form)
and swish (= silu). ``softmax`` normalises over the last axis of a 2-D array.

>>> import numpy as np, nnfast as nf
>>> nf.activations.relu(np.array([[-1.0, 2.0]]))
array([[0., 2.]])
>>> nf.activations.get("silu").name
'swish'
"""

import numpy as np

from nnfast import kernels as K

__all__ = [
    "Activation", "get", "serialize", "deserialize", "NAMES",
    "linear", "relu", "leaky_relu", "elu", "sigmoid", "tanh", "softmax", "gelu", "swish",
    "silu", "softplus",
]

NAMES = ("linear", "relu", "leaky_relu", "elu", "sigmoid", "tanh", "softmax", "gelu", "swish",
         "softplus")
_ALIASES = {"silu": "swish", None: "linear", "identity": "linear"}
_NEEDS_X = frozenset({"gelu", "swish"})  # derivative from the input; all others from the output


class Activation:
    """An element-wise (or, for softmax, row-wise) activation with its derivative.

    Parameters
    ----------
    name : str
        One of :data:`NAMES` (or the alias ``"silu"``).

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> act = nf.activations.Activation("tanh")
    >>> y = act(np.zeros((1, 2)))
    >>> act.backward(np.ones((1, 2)), x=None, y=y)
    array([[1., 1.]])
    """

    def __init__(self, name):
        self.name = _canonical(name)
        self.needs_input = self.name in _NEEDS_X

    def __call__(self, x):
        x = np.asarray(x)
        if x.dtype.kind in "iub":
            x = x.astype(np.float64)
        return self.forward(x)

    def forward(self, x, out=None):
        """``y = f(x)`` into ``out`` (allocated when None)."""
        if self.name == "softmax":
            return K.softmax(x, out=out)
        return K.activation_forward(x, self.name, out=out)

    def backward(self, grad, *, x=None, y=None, out=None):
        """``dL/dx`` from ``dL/dy``; ``out=grad`` works in place."""
        if self.name == "linear":
            if out is None:
                return np.array(grad, copy=True)
            if out is not grad:
                np.copyto(out, grad)
            return out
        return K.activation_backward(grad, self.name, x=x, y=y, out=out)

    def get_config(self):
        return {"name": self.name}

    def __repr__(self):
        return f"Activation({self.name!r})"

    def __eq__(self, other):
        return isinstance(other, Activation) and other.name == self.name

    def __hash__(self):
        return hash(self.name)


def _canonical(name):
    if isinstance(name, str):
        key = name.lower()
        key = _ALIASES.get(key, key)
        if key in NAMES:
            return key
    elif name is None:
        return "linear"
    raise ValueError(
        f"Expected activation to be one of {', '.join(NAMES)} (or 'silu'), received: activation={name!r}"
    )


_OBJECTS = {n: Activation(n) for n in NAMES}
linear, relu, leaky_relu, elu, sigmoid, tanh, softmax, gelu, swish, softplus = (
    _OBJECTS[n] for n in NAMES
)
silu = swish


def get(identifier):
    """The :class:`Activation` for a name, an Activation object, or None (linear).

    Raises ValueError (listing the valid names) for an unknown name, TypeError for anything
    else (an arbitrary Python function has no compiled derivative).
    """
    if isinstance(identifier, Activation):
        return identifier
    if identifier is None or isinstance(identifier, str):
        return _OBJECTS[_canonical(identifier)]
    raise TypeError(
        "Expected activation to be a name, an nnfast.activations.Activation or None, "
        f"received: activation={identifier!r}"
    )


def serialize(activation):
    """The activation's name (what ``get`` accepts)."""
    return get(activation).name


def deserialize(name):
    return get(name)
