"""Full-batch training with SciPy's L-BFGS-B, as scikit-learn's ``solver="lbfgs"``.

The objective is the network's loss on all training rows at once (penalty included), in
scikit-learn's units (``report_scale`` times nnfast's loss; see :mod:`nnfast.sklearn._network`),
with its gradient from ``Sequential.compute_gradients``. The weights travel to SciPy as one
float64 vector and come back as the model's dtype, so a float32 network computes in float32,
as scikit-learn's MLP does on float32 input. As in scikit-learn, ``max_iter`` bounds the
iterations, ``max_fun`` the loss evaluations, and ``tol`` is L-BFGS-B's gradient tolerance
(``gtol``).
"""

import warnings

import numpy as np
from scipy.optimize import minimize
from sklearn.exceptions import ConvergenceWarning

from nnfast import _threads

__all__ = ["fit_lbfgs"]


def fit_lbfgs(model, X, T, W, *, max_iter, max_fun, tol, report_scale, verbose=False):
    """Minimize the loss of ``model`` on ``(X, T)`` (row weights ``W`` or None) in place.

    Returns ``(n_iter, loss, curve)``: iterations run, the final loss and the loss after every
    iteration, all in scikit-learn's units. Warns ConvergenceWarning when L-BFGS-B stopped
    before converging (iteration or evaluation limit, failed line search).
    """
    weights = model.get_weights()  # every weight is trainable: Dense layers only
    shapes = [w.shape for w in weights]
    ends = np.cumsum([w.size for w in weights])

    def unpack(x):
        return [part.reshape(shape) for part, shape in zip(np.split(x, ends[:-1]), shapes)]

    last = {"loss": np.inf}

    objective = model._flat_objective(X, T, sample_weight=W)  # (the data checked once)

    def loss_and_grad(x):
        loss, grad = objective(x)
        last["loss"] = report_scale * loss
        grad *= report_scale
        return last["loss"], grad

    curve = []

    def after_iteration(xk):
        curve.append(float(last["loss"]))
        if verbose:
            print(f"Iteration {len(curve)}, loss = {curve[-1]:.8f}")

    x0 = np.concatenate([w.ravel() for w in weights]).astype(np.float64)
    with _threads.other_blas_serial():  # (L-BFGS-B's BLAS calls against the GEMMs' threads)
        result = minimize(loss_and_grad, x0, method="L-BFGS-B", jac=True,
                          callback=after_iteration,
                          options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol})
    model.set_weights(unpack(result.x))
    if not result.success:
        warnings.warn(f"lbfgs failed to converge after {result.nit} iteration(s) (status="
                      f"{result.status}): {result.message}. Increase max_iter (or max_fun), or "
                      "scale the data.", ConvergenceWarning)
    return min(int(result.nit), max_iter), float(result.fun), curve
