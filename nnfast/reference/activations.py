"""NumPy twins of the activation kernels: the readable specification.

Each function has the signature of its compiled twin in :mod:`nnfast._ops.activations`,
computes in float64 and returns the input's dtype. ``TABLE`` lists every activation with its
formula and the derivative the backward pass uses.
"""

import numpy as np
from scipy import special

__all__ = [
    "ACTIVATIONS",
    "TABLE",
    "activation_code",
    "activation_forward",
    "activation_backward",
    "linear",
    "relu",
    "leaky_relu",
    "elu",
    "sigmoid",
    "tanh",
    "gelu",
    "swish",
    "silu",
    "softplus",
    "softmax",
    "log_softmax",
    "bias_activation_inplace",
    "bias_grad",
]

ACTIVATIONS = (
    "linear", "relu", "leaky_relu", "elu", "sigmoid", "tanh", "gelu", "swish", "softplus",
    "softmax",
)
# one backward function per activation, and silu_backward (= swish_backward)
__all__ += [f"{name}_backward" for name in (*ACTIVATIONS, "silu")]
LEAKY_RELU_ALPHA = 0.01
ELU_ALPHA = 1.0

#: name -> (forward formula, derivative, what the derivative is computed from)
TABLE = {
    "linear": ("y = x", "dy/dx = 1", "nothing"),
    "relu": ("y = max(x, 0)", "dy/dx = 1 if y > 0 else 0", "y"),
    "leaky_relu": ("y = x if x >= 0 else 0.01 x", "dy/dx = 1 if y > 0 else 0.01", "y"),
    "elu": ("y = x if x >= 0 else exp(x) - 1", "dy/dx = 1 if y > 0 else y + 1", "y"),
    "sigmoid": ("y = 1 / (1 + exp(-x))", "dy/dx = y (1 - y)", "y"),
    "tanh": ("y = tanh(x)", "dy/dx = (1 - y)(1 + y)", "y"),
    "gelu": ("y = x Phi(x) = x (1 + erf(x / sqrt 2)) / 2",
             "dy/dx = Phi(x) + x exp(-x^2 / 2) / sqrt(2 pi)", "x"),
    "swish": ("y = x sigmoid(x)", "dy/dx = sigmoid(x) (1 + x sigmoid(-x))", "x"),
    "softplus": ("y = log(1 + exp(x))", "dy/dx = sigmoid(x) = 1 - exp(-y)", "y"),
    "softmax": ("y_ij = exp(x_ij) / sum_k exp(x_ik)",
                "dx_ij = y_ij (dy_ij - sum_k dy_ik y_ik)", "y"),
}


def activation_code(name):
    if name is None:
        return 0
    if not isinstance(name, str):
        raise TypeError(
            f"Expected activation to be a string or None, received: activation={name!r}"
        )
    if name == "silu":
        name = "swish"
    if name not in ACTIVATIONS:
        raise ValueError(
            f"Expected activation to be one of {ACTIVATIONS + ('silu',)}, "
            f"received: activation={name!r}"
        )
    return ACTIVATIONS.index(name)


def _sigmoid64(x):
    # exp(-|x|) never overflows; sigmoid(x) = 1/(1+e) for x >= 0, e/(1+e) for x < 0
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _forward64(x, name):
    if name == "linear":
        return x.copy()
    if name == "relu":
        return np.where(x < 0, 0.0, x)
    if name == "leaky_relu":
        return np.where(x < 0, LEAKY_RELU_ALPHA * x, x)
    if name == "elu":
        return np.where(x < 0, ELU_ALPHA * np.expm1(np.minimum(x, 0.0)), x)
    if name == "sigmoid":
        return _sigmoid64(x)
    if name == "tanh":
        return np.tanh(x)
    if name == "gelu":
        # below -40 the product underflows to 0 in float64 (and x·Φ(x) would be -inf·0 at -inf)
        return np.where(x <= -40.0, 0.0, x * 0.5 * special.erfc(-x / np.sqrt(2.0)))
    if name == "swish":
        return x * _sigmoid64(x)
    if name == "softplus":
        return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))
    if name == "softmax":
        if x.size == 0:
            return x.copy()
        z = np.exp(x - x.max(axis=-1, keepdims=True))
        return z / z.sum(axis=-1, keepdims=True)
    raise AssertionError(name)


def _finish(r, dtype, out):
    if out is None:
        return np.asarray(r).astype(dtype, copy=False)
    out[...] = r
    return out


def activation_forward(x, activation, out=None):
    name = ACTIVATIONS[activation_code(activation)]
    x = np.asarray(x)
    return _finish(_forward64(x.astype(np.float64), name), x.dtype, out)


def activation_backward(grad, activation, *, x=None, y=None, out=None):
    name = ACTIVATIONS[activation_code(activation)]
    grad = np.asarray(grad)
    g = grad.astype(np.float64)
    x64 = None if x is None else np.asarray(x, np.float64)
    y64 = None if y is None else np.asarray(y, np.float64)
    if name == "linear":
        return _finish(g, grad.dtype, out)
    if TABLE[name][2] == "y":
        if y64 is None:
            if x64 is None:
                raise ValueError(f"Expected y (or x) for the {name} derivative, received: neither")
            y64 = _forward64(x64, name)
    elif x64 is None:
        raise ValueError(f"Expected x for the {name} derivative, received: only y")
    if name == "relu":
        d = np.where(y64 > 0, g, 0.0)  # blocked entirely, even an infinite gradient
    elif name == "leaky_relu":
        d = g * np.where(y64 > 0, 1.0, LEAKY_RELU_ALPHA)
    elif name == "elu":
        d = g * np.where(y64 > 0, 1.0, y64 + ELU_ALPHA)
    elif name == "sigmoid":
        d = g * y64 * (1.0 - y64)
    elif name == "tanh":
        d = g * (1.0 - y64) * (1.0 + y64)
    elif name == "softplus":
        d = g * -np.expm1(-y64)
    elif name == "gelu":
        pdf = np.exp(-0.5 * x64 * x64) / np.sqrt(2.0 * np.pi)
        d = g * np.where(x64 <= -40.0, 0.0, 0.5 * special.erfc(-x64 / np.sqrt(2.0)) + x64 * pdf)
    elif name == "swish":
        d = g * _sigmoid64(x64) * (1.0 + x64 * _sigmoid64(-x64))
    else:  # softmax
        d = y64 * (g - (g * y64).sum(axis=-1, keepdims=True))
    return _finish(d, grad.dtype, out)


def linear(x, out=None):
    return activation_forward(x, "linear", out)


def relu(x, out=None):
    return activation_forward(x, "relu", out)


def leaky_relu(x, out=None):
    return activation_forward(x, "leaky_relu", out)


def elu(x, out=None):
    return activation_forward(x, "elu", out)


def sigmoid(x, out=None):
    return activation_forward(x, "sigmoid", out)


def tanh(x, out=None):
    return activation_forward(x, "tanh", out)


def gelu(x, out=None):
    return activation_forward(x, "gelu", out)


def swish(x, out=None):
    return activation_forward(x, "swish", out)


silu = swish


def softplus(x, out=None):
    return activation_forward(x, "softplus", out)


def softmax(x, out=None):
    return activation_forward(x, "softmax", out)


def log_softmax(x, out=None):
    x = np.asarray(x)
    x64 = x.astype(np.float64)
    if x64.size == 0:
        return _finish(x64, x.dtype, out)
    shifted = x64 - x64.max(axis=-1, keepdims=True)
    r = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return _finish(r, x.dtype, out)


def _named_backward(name):
    def fn(grad, *, x=None, y=None, out=None):
        return activation_backward(grad, name, x=x, y=y, out=out)

    fn.__name__ = fn.__qualname__ = f"{name}_backward"
    return fn


linear_backward = _named_backward("linear")
relu_backward = _named_backward("relu")
leaky_relu_backward = _named_backward("leaky_relu")
elu_backward = _named_backward("elu")
sigmoid_backward = _named_backward("sigmoid")
tanh_backward = _named_backward("tanh")
gelu_backward = _named_backward("gelu")
swish_backward = _named_backward("swish")
silu_backward = _named_backward("silu")
softplus_backward = _named_backward("softplus")
softmax_backward = _named_backward("softmax")


def bias_activation_inplace(z, bias, code):
    z64 = z.astype(np.float64)
    if bias is not None:
        z64 = z64 + np.asarray(bias, np.float64)
    z[...] = _forward64(z64, ACTIVATIONS[code])
    return z


def bias_grad(grad, out=None):
    grad = np.asarray(grad)
    return _finish(grad.astype(np.float64).sum(axis=0), grad.dtype, out)
