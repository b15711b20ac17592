"""What MLPClassifier and MLPRegressor share: parameters, the training loop, pickling.

:class:`_BaseMLP` validates the parameters in ``fit`` (never in ``__init__``), validates the data
with scikit-learn's ``validate_data`` (``n_features_in_``, ``feature_names_in_``), builds the
network (:mod:`nnfast.sklearn._network`) on the first call, holds out the early-stopping split,
and trains with ``nf.Sequential.fit`` and the :class:`~nnfast.sklearn._stopping.SklearnProgress`
callback, which keeps scikit-learn's fitted attributes and stopping rule. A subclass says how
targets become loss targets (``_encode_targets``), which output layer and loss they need
(``_output_spec``) and how a validation set is scored (``_validation_score``).
"""

import dataclasses
import functools
import math
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from nnfast._ops._validate import FLOAT_DTYPES, all_finite
from nnfast.sklearn import _network
from nnfast.sklearn._compat import validate_data
from nnfast.sklearn._lbfgs import fit_lbfgs
from nnfast.sklearn._params import InvalidParameterError, check_params
from nnfast.sklearn._stopping import SklearnProgress

__all__ = ["_BaseMLP"]

_AUTO_BATCH = 200  # batch_size="auto" is min(200, n_samples), as scikit-learn's
_SPARSE = ("csr", "csc", "coo")  # scipy.sparse inputs accepted (made dense, see _dense)
_DENSE_MAX_BYTES = 1 << 30


def _dense(X, dtype):
    """``X`` as a C-contiguous ndarray of ``dtype``; a scipy.sparse matrix is made dense.

    The network multiplies dense arrays, so sparse input costs its dense size: above 1 GiB that
    is a ValueError rather than a surprise (scikit-learn's MLP multiplies sparse X directly).
    """
    if hasattr(X, "toarray"):
        size = X.shape[0] * X.shape[1] * np.dtype(dtype).itemsize
        if size > _DENSE_MAX_BYTES:
            raise ValueError(f"Expected sparse X of at most {_DENSE_MAX_BYTES >> 30} GiB once "
                             f"dense (nnfast trains on dense arrays), received: X of shape "
                             f"{X.shape}, {size / 2**30:.1f} GiB dense; reduce the features "
                             "(e.g. TruncatedSVD) or pass batches to partial_fit")
        return np.ascontiguousarray(X.toarray(), dtype=dtype)
    return np.ascontiguousarray(X, dtype=dtype)


def _random_state(value, make=True):
    """``check_random_state(value)``, with an error that names random_state; with ``make``
    False only checked (None returned): a RandomState made from an int costs ~150 us, which a
    ``partial_fit`` after the first one, drawing nothing from it, need not pay."""
    try:
        if isinstance(value, (bool, np.bool_)):
            raise ValueError
        if not make:
            if value is None or isinstance(value, np.random.RandomState) or (
                    isinstance(value, numbers.Integral) and 0 <= value <= 2**32 - 1):
                return None
            raise ValueError
        return check_random_state(value)
    except ValueError:
        raise InvalidParameterError("Expected random_state to be None, an int in [0, 2**32 - 1] "
                                    "or a numpy.random.RandomState, received: "
                                    f"random_state={value!r}") from None


@functools.lru_cache(maxsize=64)
def _first_seed(value):
    """The network seed drawn from an int ``random_state``: ``RandomState(value)``'s first
    ``randint(2**31 - 1)``, cached (making the RandomState costs ~250 us, which the many fits
    of one grid search or cross-validation need pay once)."""
    return int(np.random.RandomState(value).randint(np.iinfo(np.int32).max))


def _sample_weight(sample_weight, X):
    """``sample_weight`` checked by scikit-learn (finite, non-negative, one per row) as float64,
    or None; all-zero weights are refused (they leave nothing to train on)."""
    if sample_weight is None:
        return None
    from sklearn.utils.validation import _check_sample_weight

    try:
        w = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
    except TypeError:  # scikit-learn < 1.5 has no ensure_non_negative
        w = _check_sample_weight(sample_weight, X, dtype=np.float64)
        if (w < 0).any():
            raise ValueError("Expected sample_weight >= 0, received negative weights") from None
    if not w.sum() > 0.0:
        raise ValueError("Expected sample_weight with a positive sum, received: all zeros")
    return w


def _stochastic_solver(est):
    """``available_if`` test of ``partial_fit``: scikit-learn's, absent for ``solver="lbfgs"``."""
    if est.solver == "lbfgs":
        raise AttributeError("partial_fit is only available for stochastic optimizers. lbfgs is "
                             "not stochastic.")
    return True


class _BaseMLP(BaseEstimator):
    """Base class of the nnfast estimators (not for direct use)."""

    _y_numeric = False  # whether validate_data converts y to numbers (regression)

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=1e-4, batch_size="auto", learning_rate="constant",
                 learning_rate_init=1e-3, power_t=0.5, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, max_fun=15000, dropout=0.0, batch_norm=False,
                 dtype="auto"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.dtype = dtype

    # --- subclass hooks ----------------------------------------------------------------
    def _encode_targets(self, y, dtype, first_pass, incremental):
        """Loss targets for ``y`` (and classes_/n_outputs_ bookkeeping)."""
        raise NotImplementedError

    def _output_spec(self):
        """``(n_outputs, output_activation, loss, grad_scale, report_scale)``.

        ``grad_scale`` converts scikit-learn's loss to nnfast's for the alpha mapping;
        nnfast's loss times ``report_scale`` is the loss scikit-learn reports.
        """
        raise NotImplementedError

    def _validation_score(self, model, X_val, T_val, W_val):
        """The score early stopping watches (accuracy or R², weighted by ``W_val`` when not
        None) of ``model`` on encoded targets."""
        raise NotImplementedError

    def _stratify(self, T):
        """Targets to stratify the early-stopping split by, or None."""
        return None

    # --- training ----------------------------------------------------------------------
    def _fit(self, X, y, sample_weight, incremental):
        """``fit`` / ``partial_fit``; a call that raises leaves the estimator as it was
        (but for the network's weights when training itself failed)."""
        saved = dict(self.__dict__)
        try:
            return self._fit_checked(X, y, sample_weight, incremental)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _fit_checked(self, X, y, sample_weight, incremental):
        cfg = check_params(self)
        first_pass = not hasattr(self, "model_") or (not cfg.warm_start and not incremental)
        # (drawn from only to seed a new network and to split off early stopping's rows; an int
        # seeds the network through _first_seed without one)
        int_seed = isinstance(self.random_state, numbers.Integral)
        rng = _random_state(self.random_state,
                            make=first_pass and not int_seed or cfg.early_stopping)
        if incremental and cfg.solver == "lbfgs":
            raise InvalidParameterError("Expected a stochastic solver with partial_fit, received: "
                                        "solver='lbfgs' (it trains on all the data at once)")
        if cfg.solver == "lbfgs":  # as scikit-learn: early stopping is for stochastic solvers
            cfg = dataclasses.replace(cfg, early_stopping=False)
        if incremental and cfg.early_stopping:
            raise ValueError("Expected early_stopping=False with partial_fit (no data is held "
                             "out in partial_fit), received: early_stopping=True")
        if first_pass:
            plain = self._plain_first(X, y)
        else:
            plain = self._plain_batch(X, y) if incremental else None
        if plain is None:
            X, y = validate_data(self, X, y, reset=first_pass, dtype="numeric",
                                 multi_output=True, y_numeric=self._y_numeric,
                                 accept_sparse=_SPARSE)
        else:
            X = plain
        if first_pass:
            auto = np.float64 if X.dtype == np.float64 else np.float32
            dtype = np.dtype(auto if cfg.dtype == "auto" else cfg.dtype)
        else:
            dtype = self.model_.dtype
        X = _dense(X, dtype)
        W = _sample_weight(sample_weight, X)
        T = self._encode_targets(y, dtype, first_pass, incremental)
        n_outputs, out_activation, loss, grad_scale, report_scale = self._output_spec()
        validation = None
        if cfg.early_stopping:
            X, T, W, validation = self._split(X, T, W, cfg, rng)
        weight_scale = 1.0  # the mean weight of a training row
        if W is not None:
            weight_scale = float(W.mean())
            W = W / weight_scale
        if first_pass:
            seed = (_first_seed(self.random_state) if rng is None
                    else int(rng.randint(np.iinfo(np.int32).max)))
            self.model_ = _network.build_network(cfg, X.shape[1], n_outputs, out_activation,
                                                 loss, dtype, seed)
            self.out_activation_ = {"linear": "identity", "sigmoid": "logistic"}.get(
                out_activation, out_activation)
            self.n_layers_ = len(cfg.hidden) + 2
            self.loss_curve_, self.t_, self._no_improvement_count = [], 0, 0
            self.best_loss_ = self.validation_scores_ = self.best_validation_score_ = None
        elif not incremental:  # warm start: a fresh optimizer, as scikit-learn's
            self.model_.compile(optimizer=_network.make_optimizer(cfg), loss=loss)
        if cfg.early_stopping:
            if self.validation_scores_ is None:
                self.validation_scores_, self.best_validation_score_ = [], -np.inf
            self.best_loss_ = None
        else:
            if self.best_loss_ is None:
                self.best_loss_ = np.inf
            self.validation_scores_ = self.best_validation_score_ = None
        self._train(X, T, W, weight_scale, cfg, incremental, grad_scale, report_scale,
                    validation)
        return self

    def _plain_first(self, X, y):
        """A first ``fit``'s X when validate_data would only record its width: a non-empty,
        finite float32/float64 ndarray of at least one column, with y as :meth:`_plain_targets`
        takes it; its width is then recorded (and feature names forgotten) as validate_data's
        reset does. Else None (validate_data runs, with its warnings and errors: ~450 us of a
        2 ms fit of iris, most of it looking for dataframe types)."""
        if (type(X) is not np.ndarray or X.ndim != 2 or X.dtype not in FLOAT_DTYPES
                or not X.shape[0] or not X.shape[1] or not self._plain_targets(y, X.shape[0])
                or not all_finite(X)):
            return None
        self.n_features_in_ = X.shape[1]
        self.__dict__.pop("feature_names_in_", None)
        return X

    @staticmethod
    def _plain_targets(y, n):
        """Whether y is a 1-D or 2-D (at least one column) ndarray of n integer, boolean or
        finite float targets, which validate_data would pass through unchanged."""
        return (type(y) is np.ndarray and (y.ndim == 1 or y.ndim == 2 and y.shape[1])
                and y.shape[0] == n
                and (y.dtype.kind in "iub" or y.dtype.kind == "f" and all_finite(y)))

    def _plain_batch(self, X, y):
        """A later ``partial_fit``'s X as an ndarray when validate_data would only convert
        ``(X, y)``: X as :meth:`_plain_input` takes it, finite, and y a 1-D or 2-D ndarray of
        as many integer, boolean or finite float targets; else None (validate_data runs, with
        its warnings and errors: ~280 us a call on 64 rows)."""
        A = self._plain_input(X)
        if A is None or not self._plain_targets(y, A.shape[0]) or not all_finite(A):
            return None
        return A

    def _split(self, X, T, W, cfg, rng):
        from sklearn.model_selection import train_test_split

        n_val = math.ceil(cfg.validation_fraction * X.shape[0])
        if n_val < 2 or n_val >= X.shape[0]:
            raise ValueError("Expected validation_fraction to hold out at least 2 samples and "
                             "keep one for training (early_stopping=True), received: "
                             f"validation_fraction={cfg.validation_fraction} with "
                             f"{X.shape[0]} samples")
        stratify = self._stratify(T)
        arrays = (X, T) if W is None else (X, T, W)
        try:
            parts = train_test_split(*arrays, test_size=cfg.validation_fraction,
                                     random_state=rng, stratify=stratify)
        except ValueError:
            if stratify is None:
                raise
            # a class too rare to stratify by: split without stratification
            parts = train_test_split(*arrays, test_size=cfg.validation_fraction,
                                     random_state=rng)
        X, X_val, T, T_val = parts[:4]
        W, W_val = parts[4:] if W is not None else (None, None)
        if W is not None and not W.sum() > 0.0:
            raise ValueError("Expected sample_weight with a positive sum over the training rows "
                             "left by early_stopping's split, received: all-zero weights there")
        return (np.ascontiguousarray(X), np.ascontiguousarray(T), W,
                lambda model: self._validation_score(model, X_val, T_val, W_val))

    def _train(self, X, T, W, weight_scale, cfg, incremental, grad_scale, report_scale,
               validation):
        model = self.model_
        n = X.shape[0]
        if cfg.solver == "lbfgs":
            _network.set_penalty(model, cfg, n * weight_scale, grad_scale)
            self.n_iter_, self.loss_, curve = fit_lbfgs(
                model, X, T, W, max_iter=cfg.max_iter, max_fun=cfg.max_fun, tol=cfg.tol,
                report_scale=report_scale, verbose=cfg.verbose)
            self.loss_curve_ = self.loss_curve_ + curve
            self.t_ += n
            self.best_loss_ = min(self.best_loss_, self.loss_)
            return
        batch = min(_AUTO_BATCH if cfg.batch_size == "auto" else cfg.batch_size, n)
        # scikit-learn divides a batch's penalty by its weight sum (its row count unweighted)
        _network.set_penalty(model, cfg, batch * weight_scale, grad_scale)
        progress = SklearnProgress(self, n, report_scale, tol=cfg.tol,
                                   n_iter_no_change=cfg.n_iter_no_change, verbose=cfg.verbose,
                                   validation=validation,
                                   schedule=cfg.learning_rate if cfg.solver == "sgd" else None,
                                   learning_rate_init=cfg.learning_rate_init,
                                   power_t=cfg.power_t)
        self.n_iter_ = 0
        try:
            model.fit(X, T, epochs=1 if incremental else cfg.max_iter, batch_size=batch,
                      shuffle=cfg.shuffle, sample_weight=W, callbacks=[progress], verbose=0)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")
        if progress.best_weights is not None:
            model.set_weights(progress.best_weights)
        if not model._weights_finite():
            raise ValueError("Solver produced non-finite parameter weights. The input data may "
                             "contain large values and need to be preprocessed (or lower "
                             f"learning_rate_init, received: {cfg.learning_rate_init}).")
        if not incremental and not progress.stopped and self.n_iter_ == cfg.max_iter:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({cfg.max_iter}) reached "
                          "and the optimization hasn't converged yet.", ConvergenceWarning)

    def fit(self, X, y, sample_weight=None):
        """Train a new network on ``(X, y)`` (or continue the current one with ``warm_start``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights of the rows' losses (see the class docstring).

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=False)

    # --- inference ---------------------------------------------------------------------
    def _forward(self, X):
        """The network's output activations for ``X`` (validated), in the model's dtype."""
        model = self.__dict__.get("model_")
        A = None if model is None else self._plain_input(X)
        if A is not None:
            # The network's own checks (dtype conversion, finiteness) are the ones
            # validate_data would make, without its ~200 us (~1 ms for a DataFrame). A batch-1
            # predict_proba of a 30-64-64-2 network: 190 -> 8 us here.
            try:
                return model.predict(A)
            except ValueError:  # NaN or inf: the full checks raise scikit-learn's own message
                pass
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=self.model_.dtype, accept_sparse=_SPARSE)
        return self.model_.predict(_dense(X, self.model_.dtype))

    def _plain_input(self, X):
        """``X`` as a non-empty float ndarray of the fitted width when validate_data would only
        convert it: a plain ndarray for an estimator fitted without feature names, a pandas
        DataFrame whose columns are the fitted ``feature_names_in_`` in order for one fitted
        with them; else None (the full checks, with their warnings and errors, run)."""
        names = self.__dict__.get("feature_names_in_")
        if names is None:
            A = X if type(X) is np.ndarray else None
        elif (type(X).__module__.startswith("pandas") and hasattr(X, "columns")
              and len(X.columns) == len(names)
              and (X.columns.to_numpy(dtype=object) == names).all()):
            A = X.to_numpy()
        else:
            return None
        if (type(A) is np.ndarray and A.ndim == 2 and A.dtype.kind == "f" and A.shape[0]
                and A.shape[1] == self.n_features_in_):
            return A
        return None

    # --- scikit-learn's fitted attributes, read from the network ----------------------
    def _dense_weights(self, index):
        from nnfast.layers import Dense

        return [layer.get_weights()[index] for layer in self.model_.layers
                if isinstance(layer, Dense)]

    @property
    def coefs_(self):
        """The Dense kernels, first to last: a list of ndarray of shape (fan_in, fan_out)."""
        return self._dense_weights(0)

    @property
    def intercepts_(self):
        """The Dense biases, first to last: a list of ndarray of shape (fan_out,)."""
        return self._dense_weights(1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # scipy.sparse X is accepted (made dense: _dense)
        return tags

    # --- pickling: the network travels as nnfast's own .npz bytes ---------------------
    def __getstate__(self):
        state = dict(super().__getstate__())
        if "model_" in state:
            state["model_"] = _network.to_bytes(state["model_"])
        return state

    def __setstate__(self, state):
        state = dict(state)
        if isinstance(state.get("model_"), bytes):
            state["model_"] = _network.from_bytes(state["model_"])
        super().__setstate__(state)
