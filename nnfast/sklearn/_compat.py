"""The few scikit-learn APIs that moved between the versions we support (1.3 and later)."""

__all__ = ["validate_data"]


def validate_data(estimator, X, y="no_validation", **kwargs):
    """``sklearn.utils.validation.validate_data`` (1.6+), else the older method of the same job.

    Checks ``X`` (and ``y``), and sets or checks ``n_features_in_`` and ``feature_names_in_``
    (``reset=True`` sets them, ``reset=False`` checks them).
    """
    try:
        from sklearn.utils.validation import validate_data as _validate
    except ImportError:  # scikit-learn < 1.6
        return estimator._validate_data(X, y, **kwargs)
    return _validate(estimator, X, y, **kwargs)
