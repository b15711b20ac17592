"""scikit-learn estimators backed by nnfast: :class:`MLPClassifier` and :class:`MLPRegressor`.

They take scikit-learn's ``MLPClassifier``/``MLPRegressor`` parameters where the meaning is the
same (``hidden_layer_sizes``, ``activation``, ``solver``, ``alpha``, ``batch_size``,
``learning_rate_init``, ``max_iter``, ``early_stopping``, ...), plus ``dropout``, ``batch_norm``
and ``dtype``, and train an :class:`nnfast.Sequential` with its own ``fit`` and callbacks. They
work in ``Pipeline``, ``GridSearchCV``, ``cross_val_score`` (joblib workers too), ``clone`` and
pickle (the network travels in nnfast's own ``.npz`` format, never as pickled objects).

scikit-learn is an optional dependency of nnfast: this module needs it
(``pip install scikit-learn``); ``import nnfast`` does not.

>>> import numpy as np
>>> from nnfast.sklearn import MLPClassifier
>>> X = np.random.default_rng(0).normal(size=(80, 3)); y = np.where(X[:, 0] > 0, "yes", "no")
>>> clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=50, random_state=0).fit(X, y)
>>> clf.classes_.tolist(), clf.predict_proba(X[:2]).shape
(['no', 'yes'], (2, 2))
"""

try:
    import sklearn  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError(
        "nnfast.sklearn needs scikit-learn, an optional dependency of nnfast: install it with "
        f"`pip install scikit-learn` (import failed: {exc})"
    ) from exc

from nnfast.sklearn._classifier import MLPClassifier  # noqa: E402
from nnfast.sklearn._params import InvalidParameterError  # noqa: E402
from nnfast.sklearn._regressor import MLPRegressor  # noqa: E402

__all__ = ["MLPClassifier", "MLPRegressor", "InvalidParameterError"]
