"""Validated activation ops: forward, backward, softmax/log-softmax, the dense layer's bias
epilogue and bias gradient.

Derivatives are computed from whichever of the pre-activation ``x`` or the output ``y`` is
cheaper (sklearn's ``inplace_*_derivative`` idea): from ``y`` for relu, leaky_relu, elu,
sigmoid, tanh, softplus and softmax; from ``x`` for gelu and swish. Every activation is
numerically safe for all finite inputs (no overflow, no nan).
"""

import numpy as np

from nnfast import _threads
from nnfast._kernels import activations as _k
from nnfast._ops import _validate as v

__all__ = [
    "ACTIVATIONS",
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

#: The activation names, in the order of their C codes (``NNF_ACT_*`` in ``csrc/nnf_act.h``).
#: ``"silu"`` is accepted everywhere as an alias of ``"swish"``.
ACTIVATIONS = (
    "linear", "relu", "leaky_relu", "elu", "sigmoid", "tanh", "gelu", "swish", "softplus",
    "softmax",
)
# one backward function per activation, and silu_backward (= swish_backward)
__all__ += [f"{name}_backward" for name in (*ACTIVATIONS, "silu")]
_CODES = {name: code for code, name in enumerate(ACTIVATIONS)}
_CODES["silu"] = _CODES["swish"]
_SOFTMAX = _CODES["softmax"]
_LINEAR = _CODES["linear"]


def activation_code(name):
    """The integer code of an activation name (the ``NNF_ACT_*`` enum of ``csrc/nnf_act.h``).

    Parameters
    ----------
    name : str or None
        One of :data:`ACTIVATIONS` or ``"silu"`` (= ``"swish"``); None means ``"linear"``.

    Returns
    -------
    int

    Examples
    --------
    >>> import nnfast as nf
    >>> nf.kernels.activation_code("relu"), nf.kernels.activation_code(None)
    (1, 0)
    """
    if name is None:
        return _LINEAR
    if not isinstance(name, str):
        raise TypeError(
            f"Expected activation to be a string or None, received: activation={name!r}"
        )
    try:
        return _CODES[name]
    except KeyError:
        valid = ", ".join(repr(n) for n in (*ACTIVATIONS, "silu"))
        raise ValueError(
            f"Expected activation to be one of {valid} (or None), received: activation={name!r}"
        ) from None


def _input(x, name="x"):
    return v.float_input("activation", x, name)


def _softmax_into(x, out, log):
    """Row (log-)softmax of a validated 2-D ``x`` into ``out``."""
    v.ndim(x, "x", 2)
    out = v.out_array(out, x.shape, x.dtype, inputs=(x,), allow_inplace=(x,))
    if x.size:
        _k.softmax(v.contiguous(x), out, bool(log), _threads.num_threads())
    return out


def activation_forward(x, activation, out=None):
    """Apply an activation element-wise (softmax: row-wise over the last axis of a 2-D array).

    Parameters
    ----------
    x : ndarray of any shape (2-D for ``"softmax"``), float32 or float64
    activation : str or None
        A name of :data:`ACTIVATIONS`, ``"silu"``, or None (linear).
    out : ndarray of x's shape, optional
        C-contiguous, same dtype; may be ``x`` itself (in place).

    Returns
    -------
    ndarray of x's shape and dtype

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> nf.kernels.activation_forward(np.array([-1.0, 2.0], np.float32), "relu")
    array([0., 2.], dtype=float32)
    """
    code = activation_code(activation)
    x, dtype = _input(x)
    if code == _SOFTMAX:
        return _softmax_into(x, out, False)
    out = v.out_array(out, x.shape, dtype, inputs=(x,), allow_inplace=(x,))
    if x.size:
        _k.forward(code, v.contiguous(x).reshape(-1), out.reshape(-1), _threads.num_threads())
    return out


def activation_backward(grad, activation, *, x=None, y=None, out=None):
    """The gradient through an activation: ``dL/dx`` from ``dL/dy`` (``grad``).

    Each derivative reads the cheaper of the two: the output ``y`` for relu, leaky_relu, elu,
    sigmoid, tanh, softplus and softmax (e.g. sigmoid' = y (1 - y), softmax:
    ``dx = y (dy - sum_j dy_j y_j)`` per row), the input ``x`` for gelu and swish. When only the
    other one is given, the missing ``y`` is computed from ``x``; gelu and swish are not
    invertible, so they require ``x``. Linear needs neither.

    Parameters
    ----------
    grad : ndarray
        ``dL/dy``, the shape of the activation's output.
    activation : str or None
    x : ndarray of grad's shape, optional
        The pre-activation input.
    y : ndarray of grad's shape, optional
        The activation's output.
    out : ndarray of grad's shape, optional
        C-contiguous, same dtype; may be ``grad`` itself (write into the incoming gradient).

    Returns
    -------
    ndarray of grad's shape and dtype

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> y = np.array([0.0, 2.0], np.float32)
    >>> nf.kernels.activation_backward(np.ones(2, np.float32), "relu", y=y)
    array([0., 1.], dtype=float32)
    """
    code = activation_code(activation)
    (grad, x, y), dtype = v.floats("activation_backward", ("x", "y"), grad=grad, x=x, y=y)
    for arr, name in ((x, "x"), (y, "y")):
        if arr is not None:
            v.same_shape(grad, "grad", arr, name)
    if code == _SOFTMAX:
        v.ndim(grad, "grad", 2)
    name = ACTIVATIONS[code]
    uses_y = _k.backward_uses_output(code)
    if code != _LINEAR:
        if x is None and y is None:
            need = "y (or x)" if uses_y else "x"
            raise ValueError(
                f"Expected {need} for the {name} derivative, received: neither x nor y"
            )
        if not uses_y and x is None:
            raise ValueError(
                f"Expected x for the {name} derivative (it is computed from the input, and "
                f"{name} cannot be inverted from its output), received: only y"
            )
    out = v.out_array(out, grad.shape, dtype, inputs=(grad, x, y), allow_inplace=(grad,))
    if grad.size == 0:
        return out
    nthreads = _threads.num_threads()
    g = v.contiguous(grad)
    if code == _LINEAR:
        if out is not g:
            np.copyto(out, g)
        return out
    if uses_y:
        s = v.contiguous(y) if y is not None else activation_forward(x, name)
    else:
        s = v.contiguous(x)
    if code == _SOFTMAX:
        _k.softmax_backward(s, g, out, nthreads)
    else:
        _k.backward(code, s.reshape(-1), g.reshape(-1), out.reshape(-1), nthreads)
    return out


def _forward_doc(name, formula, example):
    def fn(x, out=None):
        return activation_forward(x, name, out=out)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"""{formula}, element-wise.

    Parameters
    ----------
    x : ndarray of any shape, float32 or float64
    out : ndarray of x's shape, optional
        C-contiguous, same dtype; may be ``x`` (in place).

    Returns
    -------
    ndarray of x's shape and dtype

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> nf.kernels.{name}(np.array([-1.0, 0.0, 2.0]))
    {example}
    """
    return fn


linear = _forward_doc("linear", "``x`` (the identity: a copy, or ``x`` written into ``out``)",
                      "array([-1.,  0.,  2.])")
relu = _forward_doc("relu", "``max(x, 0)``", "array([0., 0., 2.])")
leaky_relu = _forward_doc(
    "leaky_relu", "``x if x >= 0 else 0.01 x``", "array([-0.01,  0.  ,  2.  ])"
)
elu = _forward_doc(
    "elu", "``x if x >= 0 else exp(x) - 1``", "array([-0.63212056,  0.        ,  2.        ])"
)
sigmoid = _forward_doc(
    "sigmoid", "``1 / (1 + exp(-x))``, without overflow",
    "array([0.26894142, 0.5       , 0.88079708])",
)
tanh = _forward_doc("tanh", "``tanh(x)``", "array([-0.76159416,  0.        ,  0.96402758])")
gelu = _forward_doc(
    "gelu", "``x Phi(x) = x (1 + erf(x / sqrt 2)) / 2`` (exact GELU)",
    "array([-0.15865525,  0.        ,  1.95449974])",
)
swish = _forward_doc(
    "swish", "``x sigmoid(x)`` (also called silu)", "array([-0.26894142,  0.        ,  1.76159416])"
)
silu = _forward_doc(
    "silu", "``x sigmoid(x)`` (alias of swish)", "array([-0.26894142,  0.        ,  1.76159416])"
)
softplus = _forward_doc(
    "softplus", "``log(1 + exp(x))``, without overflow",
    "array([0.31326169, 0.69314718, 2.12692801])",
)



def _backward_doc(name, derivative, reads, result, call_args=None):
    def fn(grad, *, x=None, y=None, out=None):
        return activation_backward(grad, name, x=x, y=y, out=out)

    if call_args is None:
        call_args = "np.ones(3), x=np.array([-1.0, 0.5, 2.0])"
    fn.__name__ = fn.__qualname__ = f"{name}_backward"
    fn.__doc__ = f"""``dL/dx`` through {name} from ``dL/dy`` (``grad``): {derivative}.

    :func:`activation_backward` with ``activation="{name}"``: it {reads}

    Parameters
    ----------
    grad : ndarray
        ``dL/dy``.
    x : ndarray of grad's shape, optional, keyword-only
        The pre-activation input.
    y : ndarray of grad's shape, optional, keyword-only
        The activation's output.
    out : ndarray of grad's shape, optional
        C-contiguous, same dtype; may be ``grad`` itself.

    Returns
    -------
    ndarray of grad's shape and dtype

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> nf.kernels.{name}_backward({call_args})
    {result}
    """
    return fn


_FROM_Y = "reads ``y``, computed from ``x`` when only ``x`` is given."
_FROM_X = "reads ``x``, which is required (the function cannot be inverted from ``y``)."
_SWISH = "``grad (s + x s (1 - s))`` with ``s = sigmoid(x)``"
linear_backward = _backward_doc("linear", "``grad``", "needs neither ``x`` nor ``y``.",
                                "array([1., 1., 1.])")
relu_backward = _backward_doc("relu", "``grad (y > 0)``", _FROM_Y, "array([0., 1., 1.])")
leaky_relu_backward = _backward_doc("leaky_relu", "``grad (1 if y > 0 else 0.01)``", _FROM_Y,
                                    "array([0.01, 1.  , 1.  ])")
elu_backward = _backward_doc("elu", "``grad (1 if y > 0 else y + 1)``", _FROM_Y,
                             "array([0.36787944, 1.        , 1.        ])")
sigmoid_backward = _backward_doc("sigmoid", "``grad y (1 - y)``", _FROM_Y,
                                 "array([0.19661193, 0.23500371, 0.10499359])")
tanh_backward = _backward_doc("tanh", "``grad (1 - y^2)``", _FROM_Y,
                              "array([0.41997434, 0.78644773, 0.07065082])")
gelu_backward = _backward_doc("gelu", "``grad (Phi(x) + x phi(x))``", _FROM_X,
                              "array([-0.08331547,  0.86749512,  1.0852318 ])")
swish_backward = _backward_doc("swish", _SWISH, _FROM_X,
                               "array([0.07232949, 0.73996119, 1.09078425])")
silu_backward = _backward_doc("silu", _SWISH, _FROM_X,
                              "array([0.07232949, 0.73996119, 1.09078425])")
softplus_backward = _backward_doc("softplus", "``grad (1 - exp(-y))`` (``= grad sigmoid(x)``)",
                                  _FROM_Y, "array([0.26894142, 0.62245933, 0.88079708])")
softmax_backward = _backward_doc(
    "softmax", "``y (grad - sum_j grad_j y_j)`` per row", _FROM_Y + " ``grad`` is 2-D.",
    "array([[ 0.1875, -0.1875]])", "np.array([[1.0, 0.0]]), y=np.array([[0.25, 0.75]])",
)


def softmax(x, out=None):
    """Row-wise softmax of a 2-D array, ``exp(x - max) / sum(exp(x - max))`` over the last axis.

    One pass finds each row's max, one fused pass writes ``exp(x - max)`` and sums it, a last
    one scales by the reciprocal of the sum.

    Parameters
    ----------
    x : ndarray of shape (n, k), float32 or float64
    out : ndarray of shape (n, k), optional
        C-contiguous, same dtype; may be ``x`` (in place).

    Returns
    -------
    ndarray of shape (n, k)

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> nf.kernels.softmax(np.array([[0.0, np.log(3.0)]]))
    array([[0.25, 0.75]])
    """
    x, _ = _input(x)
    return _softmax_into(x, out, False)


def log_softmax(x, out=None):
    """Row-wise log-softmax of a 2-D array, ``x - max - log(sum(exp(x - max)))``.

    Parameters
    ----------
    x : ndarray of shape (n, k), float32 or float64
    out : ndarray of shape (n, k), optional
        C-contiguous, same dtype; may be ``x`` (in place).

    Returns
    -------
    ndarray of shape (n, k)

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> np.exp(nf.kernels.log_softmax(np.array([[0.0, np.log(3.0)]])))
    array([[0.25, 0.75]])
    """
    x, _ = _input(x)
    return _softmax_into(x, out, True)


def bias_activation_inplace(z, bias, code):
    """``z := act(z + bias)`` in one pass over ``z`` (internal: the dense layer's epilogue).

    Only cheap checks (no conversion, no copy): ``z`` must be a writable C-contiguous 2-D float
    array, ``bias`` None or a C-contiguous ``(z.shape[1],)`` array of z's dtype, ``code`` a valid
    activation code; anything else raises ValueError or TypeError (the kernel trusts these, so
    they are real checks, not asserts that ``python -O`` would remove). For softmax the bias is
    added and each row soft-maxed.

    Parameters
    ----------
    z : ndarray of shape (n, k)
    bias : ndarray of shape (k,) or None
    code : int
        From :func:`activation_code`.

    Returns
    -------
    ndarray
        ``z`` itself.

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> z = np.array([[-1.0, 1.0]], np.float32)
    >>> nf.kernels.bias_activation_inplace(z, np.array([0.5, 0.5], np.float32), 1)
    array([[0. , 1.5]], dtype=float32)
    """
    if not (type(z) is np.ndarray and z.dtype in v.FLOAT_DTYPES and z.ndim == 2
            and z.flags.c_contiguous and z.flags.writeable):
        _check_inplace_z(z)
    if isinstance(code, bool) or not isinstance(code, (int, np.integer)):
        raise TypeError(f"Expected code to be an int (see activation_code), received: code={code!r}")
    if not 0 <= code < len(ACTIVATIONS):
        raise ValueError(f"Expected code in [0, {len(ACTIVATIONS)}), received: code={code!r}")
    if bias is not None and not (type(bias) is np.ndarray and bias.dtype == z.dtype
                                 and bias.shape == (z.shape[1],) and bias.flags.c_contiguous):
        _check_bias(bias, z)
    if z.size:
        _k.bias_act(code, z, bias, _threads.num_threads())
    return z


def _check_inplace_z(z):
    """Raise the error that says why ``z`` cannot be written in place (None if it can)."""
    if not isinstance(z, np.ndarray):
        raise TypeError(f"Expected z to be a numpy.ndarray, received: z={type(z).__name__}")
    if z.dtype not in v.FLOAT_DTYPES:
        raise TypeError(f"Expected z to be a float32 or float64 array, received: z with dtype {z.dtype}")
    v.ndim(z, "z", 2)
    if not z.flags.c_contiguous:
        raise ValueError("Expected z to be C-contiguous, received: a non-contiguous z")
    if not z.flags.writeable:
        raise ValueError("Expected z to be writable, received: a read-only z")


def _check_bias(bias, z):
    """Raise the error that says why ``bias`` does not fit ``z`` (None if it does)."""
    if not isinstance(bias, np.ndarray):
        raise TypeError(f"Expected bias to be a numpy.ndarray or None, received: bias={type(bias).__name__}")
    if bias.dtype != z.dtype:
        raise TypeError(f"Expected all arrays to share one float dtype, received: z={z.dtype}, "
                        f"bias={bias.dtype}")
    if bias.shape != (z.shape[1],):
        raise ValueError(f"Expected bias of shape ({z.shape[1]},), received: bias.shape={bias.shape}")
    if not bias.flags.c_contiguous:
        raise ValueError("Expected bias to be C-contiguous, received: a non-contiguous bias")


def bias_grad(grad, out=None):
    """A dense layer's bias gradient: the column sums of a 2-D gradient.

    Accumulated in double (also for float32), in fixed blocks of rows added in a fixed order:
    the result is bit-identical for every thread count.

    Parameters
    ----------
    grad : ndarray of shape (n, k), float32 or float64
    out : ndarray of shape (k,), optional
        C-contiguous, same dtype.

    Returns
    -------
    ndarray of shape (k,)

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> nf.kernels.bias_grad(np.array([[1.0, 2.0], [3.0, 4.0]], np.float32))
    array([4., 6.], dtype=float32)
    """
    (grad,), dtype = v.floats("bias_grad", grad=grad)
    v.ndim(grad, "grad", 2)
    out = v.out_array(out, (grad.shape[1],), dtype, inputs=(grad,))
    if grad.shape[1] == 0:
        return out
    if grad.shape[0] == 0:
        out.fill(0)
        return out
    _k.bias_grad(v.contiguous(grad), out, _threads.num_threads())
    return out
