"""MLPRegressor: one or many real targets, a linear-output network trained on the mean squared
error by nnfast."""

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import column_or_1d

from nnfast._ops._validate import FLOAT_DTYPES, all_finite
from nnfast.sklearn import _docs
from nnfast.sklearn._base import _BaseMLP, _stochastic_solver

__all__ = ["MLPRegressor"]


def _r2(y_true, y_pred):
    """``r2_score(y_true, y_pred)`` (uniform average over the columns, force_finite) for
    checked 2-D arrays of one float dtype, in ``r2_score``'s own operations."""
    weight = 1.0
    numerator = np.sum(weight * (y_true - y_pred) ** 2, axis=0)
    denominator = np.sum(weight * (y_true - np.average(y_true, axis=0)) ** 2, axis=0)
    nonzero_numerator, nonzero_denominator = numerator != 0, denominator != 0
    scores = np.ones([y_true.shape[1]], dtype=numerator.dtype)
    valid = nonzero_denominator & nonzero_numerator
    scores[valid] = 1 - (numerator[valid] / denominator[valid])
    scores[nonzero_numerator & ~nonzero_denominator] = 0.0
    return float(np.average(scores))


class MLPRegressor(RegressorMixin, _BaseMLP):
    __doc__ = _docs.REGRESSOR

    _y_numeric = True

    def _encode_targets(self, y, dtype, first_pass, incremental):
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        k = 1 if y.ndim == 1 else y.shape[1]
        if not first_pass and k != self.n_outputs_:
            raise ValueError(f"Expected y with {self.n_outputs_} target column(s) as in the first "
                             f"call, received: y.shape={y.shape}")
        self.n_outputs_ = k
        return np.ascontiguousarray(y, dtype=dtype)

    def _output_spec(self):
        # scikit-learn's loss is half the squared error summed over outputs (its gradient), and
        # it reports half the mean: nnfast's mse averages over the k outputs.
        k = self.n_outputs_
        return k, "linear", "mse", k / 2.0, 0.5

    def _validation_score(self, model, X_val, T_val, W_val):
        pred = model.predict(X_val)
        if not np.isfinite(pred).all():
            return np.nan
        return float(r2_score(T_val, pred[:, 0] if T_val.ndim == 1 else pred,
                               sample_weight=W_val))

    @available_if(_stochastic_solver)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``(X, y)``, starting a network on the first call.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights of the rows' losses.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X):
        """Predictions: ndarray of shape (n_samples,) for one target, else (n_samples, n_outputs),
        in the network's dtype."""
        out = self._forward(X)
        return out[:, 0].copy() if self.n_outputs_ == 1 else out

    def score(self, X, y, sample_weight=None):
        """The coefficient of determination R^2 of ``predict(X)`` against ``y`` (scikit-learn's
        ``r2_score``, as ``RegressorMixin.score``).

        A float32/float64 ndarray ``y`` of at least two finite rows, without weights, takes
        ``r2_score``'s own arithmetic here (the same dtype promotion, sums and constant-target
        rules) without its input checks, which cost ~0.7 ms a call (a grid search scores every
        fold); anything else, or non-finite predictions, goes to ``r2_score`` itself.
        """
        if not (sample_weight is None and type(y) is np.ndarray and y.ndim in (1, 2)
                and y.dtype in FLOAT_DTYPES and y.shape[0] >= 2 and hasattr(self, "model_")):
            return super().score(X, y, sample_weight=sample_weight)
        pred = self.predict(X)
        dtype = np.result_type(y.dtype, pred.dtype)
        yt = y.astype(dtype, copy=False).reshape(y.shape[0], -1)
        yp = pred.astype(dtype, copy=False).reshape(pred.shape[0], -1)
        if yt.shape == yp.shape and all_finite(yt) and all_finite(yp):
            return _r2(yt, yp)
        return float(r2_score(y, pred))  # its errors (RegressorMixin.score's call, one predict)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"multioutput": True}
