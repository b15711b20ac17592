"""NumPy twins of the optimizer ops: the update rules of torch.optim, written out in float64.

Each update reads its arrays in float64, applies the formula of torch.optim's for-loop
implementation, and writes the new values back into the same arrays (rounded to their dtype).
No validation: these are the readable specification the compiled kernels are tested against.
"""

import numpy as np

__all__ = [
    "scale_add",
    "clip_by_value",
    "global_norm",
    "clip_by_norm",
    "clip_by_global_norm",
    "sgd_update",
    "rmsprop_update",
    "adam_update",
]


def _f64(x):
    return np.array(x, dtype=np.float64)  # always a copy


def scale_add(y, x, alpha):
    """y += alpha·x in place."""
    y[...] = _f64(y) + alpha * _f64(x)


def clip_by_value(grad, clip_value):
    """Clamp ``grad`` to [-clip_value, clip_value] in place."""
    grad[...] = np.clip(_f64(grad), -clip_value, clip_value)


def global_norm(arrays):
    """sqrt(Σ x²) over one array or over every array of a sequence, as a Python float."""
    if isinstance(arrays, np.ndarray):
        arrays = [arrays]
    return float(np.sqrt(sum(float(np.sum(_f64(a) ** 2)) for a in arrays)))


def clip_by_norm(grad, max_norm):
    """Scale ``grad`` by max_norm/‖grad‖ when ‖grad‖ > max_norm (Keras clipnorm); return ‖grad‖."""
    norm = global_norm(grad)
    if not norm <= max_norm:  # NaN too
        grad[...] = _f64(grad) * (max_norm / norm)
    return norm


def clip_by_global_norm(arrays, max_norm):
    """torch.nn.utils.clip_grad_norm_: scale all by max_norm/(norm + 1e-6) when that is < 1."""
    if isinstance(arrays, np.ndarray):
        arrays = [arrays]
    norm = global_norm(arrays)
    coef = max_norm / (norm + 1e-6)
    if not coef >= 1.0:  # NaN too
        for a in arrays:
            a[...] = _f64(a) * coef
    return norm


def _flush(x, like):
    """State below ``like``'s smallest normal number is stored as 0, as the kernels do (a
    decaying state never runs into slow subnormal arithmetic)."""
    return np.where(np.abs(x) < np.finfo(like.dtype).tiny, 0.0, x)


def sgd_update(param, grad, momentum_buffer=None, *, learning_rate, momentum=0.0,
               nesterov=False, weight_decay=0.0):
    """torch.optim.SGD: g += wd·p; b = μb + g; g = g + μb (Nesterov) or b; p -= lr·g."""
    p, g = _f64(param), _f64(grad)
    if weight_decay != 0:
        g = g + weight_decay * p
    if momentum != 0:
        b = _flush(momentum * _f64(momentum_buffer) + g, momentum_buffer)
        momentum_buffer[...] = b
        g = g + momentum * b if nesterov else b
    param[...] = p - learning_rate * g


def rmsprop_update(param, grad, square_avg, momentum_buffer=None, *, learning_rate, rho=0.9,
                   epsilon=1e-8, momentum=0.0, weight_decay=0.0):
    """torch.optim.RMSprop (alpha=rho): v = ρv + (1-ρ)g²; p -= lr·g/(√v + ε), or via momentum."""
    p, g = _f64(param), _f64(grad)
    if weight_decay != 0:
        g = g + weight_decay * p
    v = _flush(rho * _f64(square_avg) + (1 - rho) * g * g, square_avg)
    square_avg[...] = v
    avg = np.sqrt(v) + epsilon
    if momentum > 0:
        b = _flush(momentum * _f64(momentum_buffer) + g / avg, momentum_buffer)
        momentum_buffer[...] = b
        param[...] = p - learning_rate * b
    else:
        param[...] = p - learning_rate * g / avg


def adam_update(param, grad, m, v, *, step, learning_rate, beta_1=0.9, beta_2=0.999,
                epsilon=1e-8, weight_decay=0.0, decoupled=False):
    """torch.optim.Adam (AdamW when ``decoupled``), step counting from 1.

    m = β1·m + (1-β1)·g;  v = β2·v + (1-β2)·g²;
    p -= lr/(1-β1^step) · m / (√v / √(1-β2^step) + ε).
    """
    p, g = _f64(param), _f64(grad)
    if weight_decay != 0:
        if decoupled:
            p = p * (1 - learning_rate * weight_decay)
        else:
            g = g + weight_decay * p
    m64 = _flush(beta_1 * _f64(m) + (1 - beta_1) * g, m)
    v64 = _flush(beta_2 * _f64(v) + (1 - beta_2) * g * g, v)
    m[...] = m64
    v[...] = v64
    bias_correction1 = 1 - beta_1**step
    bias_correction2 = 1 - beta_2**step
    step_size = learning_rate / bias_correction1
    denom = np.sqrt(v64) / np.sqrt(bias_correction2) + epsilon
    param[...] = p - step_size * m64 / denom
