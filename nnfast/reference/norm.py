"""NumPy twins of the normalization, dropout and gather kernels.

Plain NumPy in float64, returning the input's dtype: the readable specification the compiled
kernels are tested against. They check only what defines the result (an empty batch has no
statistics; a dropout rate is in [0, 1); indices are in range).
"""

import numpy as np

__all__ = [
    "batch_norm_forward",
    "batch_norm_inference",
    "batch_norm_backward",
    "layer_norm_forward",
    "layer_norm_backward",
    "dropout_forward",
    "dropout_backward",
    "gather_rows",
]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _f64(a):
    return np.asarray(a, dtype=np.float64)


def _finish(r, dtype, out=None):
    if out is None:
        return np.asarray(r).astype(dtype, copy=False)
    out[...] = r
    return out


def batch_norm_forward(x, gamma, beta, *, epsilon=1e-3, out=None):
    x64 = _f64(x)
    if x64.shape[0] == 0 and x64.shape[1] > 0:
        raise ValueError("Expected x with at least one row, received: x.shape=" + str(x64.shape))
    mean = x64.mean(axis=0) if x64.shape[0] else np.zeros(x64.shape[1])
    var = ((x64 - mean) ** 2).mean(axis=0) if x64.shape[0] else np.zeros(x64.shape[1])
    inv_std = 1.0 / np.sqrt(var + epsilon)
    y = _f64(gamma) * (x64 - mean) * inv_std + _f64(beta)
    dtype = np.asarray(x).dtype
    return _finish(y, dtype, out), _finish(mean, dtype), _finish(inv_std, dtype)


def batch_norm_inference(x, gamma, beta, moving_mean, moving_variance, *, epsilon=1e-3, out=None):
    y = (_f64(gamma) * (_f64(x) - _f64(moving_mean)) / np.sqrt(_f64(moving_variance) + epsilon)
         + _f64(beta))
    return _finish(y, np.asarray(x).dtype, out)


def batch_norm_backward(grad, x, gamma, mean, inv_std, *, out=None):
    g, x64 = _f64(grad), _f64(x)
    n = x64.shape[0]
    xhat = (x64 - _f64(mean)) * _f64(inv_std)
    dbeta = g.sum(axis=0)
    dgamma = (g * xhat).sum(axis=0)
    dx = _f64(gamma) * _f64(inv_std) / max(n, 1) * (n * g - dbeta - xhat * dgamma)
    dtype = np.asarray(x).dtype
    return _finish(dx, dtype, out), _finish(dgamma, dtype), _finish(dbeta, dtype)


def layer_norm_forward(x, gamma, beta, *, epsilon=1e-3, out=None):
    x64 = _f64(x)
    n, d = x64.shape
    if d == 0 and n > 0:
        raise ValueError("Expected x with at least one feature, received: x.shape=" + str(x64.shape))
    mean = x64.mean(axis=1) if d else np.zeros(n)
    var = ((x64 - mean[:, None]) ** 2).mean(axis=1) if d else np.zeros(n)
    inv_std = 1.0 / np.sqrt(var + epsilon)
    y = _f64(gamma) * (x64 - mean[:, None]) * inv_std[:, None] + _f64(beta)
    dtype = np.asarray(x).dtype
    return _finish(y, dtype, out), _finish(mean, dtype), _finish(inv_std, dtype)


def layer_norm_backward(grad, x, gamma, mean, inv_std, *, out=None):
    g0, x64 = _f64(grad), _f64(x)
    s = _f64(inv_std)[:, None]
    xhat = (x64 - _f64(mean)[:, None]) * s
    g = g0 * _f64(gamma)
    d = max(x64.shape[1], 1)
    dx = s * (g - g.sum(axis=1, keepdims=True) / d - xhat * (g * xhat).sum(axis=1, keepdims=True) / d)
    dtype = np.asarray(x).dtype
    return (_finish(dx, dtype, out), _finish((g0 * xhat).sum(axis=0), dtype),
            _finish(g0.sum(axis=0), dtype))


def _mix64(z):
    """splitmix64's output function on uint64 arrays (wrapping arithmetic)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def dropout_uniform(seed, size):
    """The uniform numbers in [0, 1) dropout draws for elements ``0 .. size-1`` under ``seed``.

    One 64-bit hash per pair of elements: ``key = mix64(seed + γ)``,
    ``h_p = mix64(key + p·γ)`` (γ the golden-ratio constant of splitmix64); element ``2p`` draws
    the low 32 bits ``w`` of ``h_p``, element ``2p+1`` the high 32 bits; ``u = w · 2**-32``.
    """
    with np.errstate(over="ignore"):
        key = _mix64(np.array([seed], dtype=np.uint64) + _GOLDEN)
        p = np.arange((size + 1) // 2, dtype=np.uint64)
        h = _mix64(key + p * _GOLDEN)
    w = np.stack([h & np.uint64(0xFFFFFFFF), h >> np.uint64(32)], axis=1).reshape(-1)[:size]
    return w.astype(np.float64) * 2.0**-32


def dropout_forward(x, rate, seed, *, out=None, mask=None):
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"Expected rate in [0.0, 1.0), received: rate={rate!r}")
    x64 = _f64(x)
    keep = dropout_uniform(seed, x64.size).reshape(x64.shape) >= rate
    m = keep / (1.0 - rate)
    dtype = np.asarray(x).dtype
    return _finish(x64 * m, dtype, out), _finish(m, dtype, mask)


def dropout_backward(grad, mask, *, out=None):
    return _finish(_f64(grad) * _f64(mask), np.asarray(grad).dtype, out)


def gather_rows(x, indices, *, out=None):
    x = np.asarray(x)
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if idx.size and (idx.min() < 0 or idx.max() >= x.shape[0]):
        raise ValueError(f"Expected indices in [0, {x.shape[0]}), received: {idx}")
    return _finish(x[idx], x.dtype, out)
