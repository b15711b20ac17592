"""MLPClassifier: labels of any type in, a softmax / sigmoid network trained by nnfast."""

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call, check_classification_targets, type_of_target, unique_labels,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import column_or_1d

from nnfast.sklearn import _docs
from nnfast.sklearn._base import _BaseMLP, _stochastic_solver

__all__ = ["MLPClassifier"]

_MULTICLASS, _BINARY, _MULTILABEL = "multiclass", "binary", "multilabel"

# A binary network's one output p becomes the columns [1 - p, p] as |[1, 0] - p|: two ufunc
# calls (an empty array, a subtract into one column and a copy into the other cost 2.6 against
# 1.7 us a batch-1 call). Exact: 0 - p is -p, whose absolute value is p.
_ONE_ZERO = {np.dtype(t): np.array([1.0, 0.0], t) for t in (np.float32, np.float64)}


class MLPClassifier(ClassifierMixin, _BaseMLP):
    __doc__ = _docs.CLASSIFIER

    # --- targets -----------------------------------------------------------------------
    def _encode_targets(self, y, dtype, first_pass, incremental):
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if y.ndim == 1 and y.dtype.kind in "iub":
            # 1-D integer or boolean labels: type_of_target could only say "binary" or
            # "multiclass" (~150-300 us on 64-150 labels), which take the same path below.
            kind = _MULTICLASS
        else:
            # One type_of_target (~150 us on 64 labels): check_classification_targets and
            # unique_labels would each run it again.
            kind = type_of_target(y, input_name="y")
        if kind == "multilabel-indicator":
            return self._multilabel_targets(y, dtype, first_pass, incremental)
        if kind not in ("binary", "multiclass"):
            check_classification_targets(y)  # scikit-learn's own error for continuous targets
            raise ValueError("Expected y to hold class labels (binary or multiclass) or a 0/1 "
                             f"multilabel indicator matrix, received: y of type {kind!r}")
        if first_pass or not incremental:
            # numbers: unique_labels' sorted unique values; other labels keep its mixed-type
            # check (a later partial_fit's labels only need to be among classes_, below)
            labels = np.unique(y) if y.dtype.kind in "biuf" else unique_labels(y)
        if first_pass and not incremental:
            self.classes_ = labels
        elif getattr(self, "_kind", None) == _MULTILABEL:
            raise ValueError("Expected a multilabel indicator matrix y, as in the first call, "
                             "received: y of class labels")
        elif self.warm_start and not incremental:
            if set(labels.tolist()) != set(self.classes_.tolist()):
                raise ValueError("warm_start can only be used where y has the same classes as "
                                 f"in the previous call to fit: expected {self.classes_}, "
                                 f"received: y with classes {labels}")
        if len(self.classes_) < 2:
            raise ValueError("Expected y with at least two classes, received: one class "
                             f"({self.classes_[0]!r}); a classifier needs two or more")
        codes = np.searchsorted(self.classes_, y)
        codes = np.minimum(codes, len(self.classes_) - 1)
        unknown = self.classes_[codes] != y
        if unknown.any():
            raise ValueError(f"Expected y with classes among self.classes_={self.classes_}, "
                             f"received: y with {np.unique(np.asarray(y)[unknown])}")
        self._kind = _BINARY if len(self.classes_) == 2 else _MULTICLASS
        self.n_outputs_ = 1 if self._kind == _BINARY else len(self.classes_)
        if self._kind == _BINARY:
            return codes.astype(dtype)
        return codes.astype(np.intp)

    def _multilabel_targets(self, y, dtype, first_pass, incremental):
        k = y.shape[1]
        if first_pass:
            self.classes_ = np.arange(k)
        elif getattr(self, "_kind", None) != _MULTILABEL or k != len(self.classes_):
            raise ValueError(f"Expected y as in the first call ({len(self.classes_)} classes), "
                             f"received: a multilabel indicator matrix of {k} columns")
        self._kind, self.n_outputs_ = _MULTILABEL, k
        return np.ascontiguousarray(y, dtype=dtype)

    def _output_spec(self):
        if self._kind == _MULTICLASS:
            return self.n_outputs_, "softmax", "sparse_categorical_crossentropy", 1.0, 1.0
        if self._kind == _BINARY:
            return 1, "sigmoid", "binary_crossentropy", 1.0, 1.0
        k = float(self.n_outputs_)  # scikit-learn sums the binary log-loss over labels
        return self.n_outputs_, "sigmoid", "binary_crossentropy", k, k

    def _stratify(self, T):
        return None if self._kind == _MULTILABEL else T

    def _codes(self, out):
        """Encoded predictions from output activations (indices, or 0/1 for binary/multilabel)."""
        if self._kind == _MULTICLASS:
            return out.argmax(axis=1)
        if self._kind == _BINARY:
            return (out[:, 0] > 0.5).astype(np.intp)
        return (out > 0.5).astype(np.intp)

    def _validation_score(self, model, X_val, T_val, W_val):
        pred = self._codes(model.predict(X_val))
        hits = np.all(pred == T_val, axis=1) if self._kind == _MULTILABEL else pred == T_val
        return float(np.average(hits, weights=W_val))

    # --- public API --------------------------------------------------------------------
    @available_if(_stochastic_solver)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over ``(X, y)``, starting a network on the first call.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights of the rows' losses.
        classes : array-like of shape (n_classes,), optional
            Every class of the whole data: required on the first call (``y`` need not hold
            them all), ignored for a multilabel ``y``.

        Returns
        -------
        self
        """
        if not hasattr(self, "model_"):
            for attr in ("classes_", "_kind"):
                if attr in self.__dict__:
                    delattr(self, attr)
        _check_partial_fit_first_call(self, classes)
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X):
        """The predicted class of every row: ndarray of shape (n_samples,)
        ((n_samples, n_labels) of 0/1 for multilabel targets)."""
        codes = self._codes(self._forward(X))
        return codes if self._kind == _MULTILABEL else self.classes_[codes]

    def score(self, X, y, sample_weight=None):
        """Mean accuracy of ``predict(X)`` against ``y`` (scikit-learn's ``accuracy_score``,
        as ``ClassifierMixin.score``).

        Integer or boolean labels of a binary or multiclass estimator, as a 1-D ndarray of
        ``predict``'s length, without weights, are compared directly: ``accuracy_score``'s
        target checks could only pass them and cost ~1 ms a call (a grid search scores every
        fold). Anything else goes to ``accuracy_score``, with its checks and errors.
        """
        if not (sample_weight is None and type(y) is np.ndarray and y.ndim == 1
                and y.dtype.kind in "iub" and self.__dict__.get("_kind") in (_BINARY, _MULTICLASS)
                and self.classes_.dtype.kind in "iub"):
            return super().score(X, y, sample_weight=sample_weight)
        pred = self.predict(X)
        if pred.shape != y.shape:
            return accuracy_score(y, pred)  # its error (ClassifierMixin.score's call, one predict)
        return float(np.average(y == pred))  # accuracy_score's own average

    def predict_proba(self, X):
        """Class probabilities: ndarray of shape (n_samples, n_classes), in the order of
        ``classes_`` (two columns for a binary problem; per-label probabilities for
        multilabel targets)."""
        out = self._forward(X)
        if self._kind == _BINARY:  # [1 - p, p] (np.column_stack: ~10 us)
            proba = np.subtract(_ONE_ZERO[out.dtype], out)
            return np.abs(proba, out=proba)
        return out

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``."""
        proba = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(proba, out=proba)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"multilabel": True}
