"""The estimators' docstrings (their long Parameters section is shared, so it is written once)."""

__all__ = ["CLASSIFIER", "REGRESSOR"]

_PARAMETERS = """
    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int
        Units of each hidden layer. Defaults to (100,).
    activation : str
        Of the hidden layers: scikit-learn's ``"identity"``, ``"logistic"``, ``"tanh"``,
        ``"relu"`` or nnfast's ``"linear"``, ``"sigmoid"``, ``"leaky_relu"``, ``"elu"``,
        ``"gelu"``, ``"swish"`` (``"silu"``), ``"softplus"``. Defaults to "relu".
    solver : {"adam", "adamw", "sgd", "rmsprop", "lbfgs"}
        The nnfast optimizer, or SciPy's full-batch L-BFGS-B as scikit-learn's "lbfgs" (for
        small data; no ``partial_fit``, ``dropout``, ``batch_norm`` or early stopping; ``tol``
        is its gradient tolerance). Defaults to "adam".
    alpha : float
        L2 strength on the kernels (not the biases), scaled as scikit-learn's:
        ``alpha/(2·batch)·Σ‖W‖²`` per batch, carried by ``nf.regularizers.l2`` (see
        :mod:`nnfast.sklearn._network`); for ``solver="adamw"``, AdamW's decoupled
        ``weight_decay``. A network built with ``alpha=0`` has no regularizers. Defaults to
        1e-4.
    batch_size : int or "auto"
        Rows per mini-batch; "auto" is ``min(200, n_samples)`` and a larger int is clipped to
        ``n_samples``. Defaults to "auto".
    learning_rate : {"constant", "invscaling", "adaptive"}
        With ``solver="sgd"``, scikit-learn's schedule: constant; ``learning_rate_init / (t_ +
        1) ** power_t`` after every epoch; or divided by 5 each time the loss (or validation
        score) stalls for more than ``n_iter_no_change`` epochs, stopping at 1e-6. Other
        solvers keep ``learning_rate_init``. Defaults to "constant".
    learning_rate_init : float
        The initial learning rate. Defaults to 1e-3.
    power_t : float
        The exponent of "invscaling". Defaults to 0.5.
    max_iter : int
        Most epochs per ``fit``. Defaults to 200.
    shuffle : bool
        Reshuffle the rows every epoch. Defaults to True.
    random_state : int, RandomState or None
        Seeds the weights, the shuffling, dropout and the early-stopping split. Defaults to None.
    tol : float
        Smallest improvement of the loss (or validation score) that counts. Defaults to 1e-4.
    verbose : bool
        Print the loss after every epoch. Defaults to False.
    warm_start : bool
        ``fit`` continues from the current weights (with a fresh optimizer) instead of starting
        over. Defaults to False.
    momentum : float
        SGD momentum, in [0, 1]. Defaults to 0.9.
    nesterovs_momentum : bool
        Nesterov momentum for SGD (when momentum > 0). Defaults to True.
    early_stopping : bool
        Hold out ``validation_fraction`` of the data (stratified for single-output
        classification) and stop when its score (accuracy or R²) has not improved by ``tol`` for
        more than ``n_iter_no_change`` epochs; the best epoch's weights are kept. Without it,
        training stops when the training loss has not improved by ``tol`` for more than
        ``n_iter_no_change`` epochs. Defaults to False.
    validation_fraction : float
        In [0, 1). Defaults to 0.1.
    beta_1, beta_2, epsilon : float
        Adam's and AdamW's moment decay rates and epsilon (epsilon also RMSprop's). Defaults to
        0.9, 0.999 and 1e-8.
    n_iter_no_change : int
        Epochs without improvement tolerated. Defaults to 10.
    max_fun : int
        With ``solver="lbfgs"``: the most loss evaluations. Defaults to 15000.
    dropout : float
        In [0, 1): the rate of a Dropout layer after every hidden layer (none at 0). Defaults
        to 0.0.
    batch_norm : bool
        Put BatchNormalization between every hidden Dense layer and its activation. Defaults to
        False (without it, the network is one the compiled training plan runs).
    dtype : {"auto", "float32", "float64"}
        Of the network; "auto" trains in float64 for float64 input and in float32 for anything
        else. Defaults to "auto".

    ``fit`` and ``partial_fit`` take ``sample_weight`` (non-negative, one per row), as
    scikit-learn's: each row's loss (and so its gradient) is multiplied by its weight, and a
    weight of 2 counts as the row repeated. The weights of a call are scaled to mean 1 over its
    training rows (the penalty is scaled to match), and a batch's loss is the weighted sum over
    its rows divided by its row count, where scikit-learn divides by the batch's weight sum:
    the two agree when a batch holds all the rows and in expectation otherwise. With
    ``early_stopping`` the weights are split with the rows and weight the validation score.
    Invalid parameters raise :class:`nnfast.sklearn.InvalidParameterError`, a ValueError and a
    TypeError both, as scikit-learn's own.
"""

_COMMON_ATTRIBUTES = """
    model_ : nnfast.Sequential
        The trained network.
    loss_ : float
        The last epoch's loss, in scikit-learn's units (penalty included).
    loss_curve_ : list of float
        The loss of every epoch.
    best_loss_ : float or None
        The smallest loss (None with early stopping).
    validation_scores_ : list of float or None
        The score on the held-out set after every epoch (with early stopping).
    best_validation_score_ : float or None
        Their best (with early stopping).
    n_iter_ : int
        Epochs run by the last call.
    t_ : int
        Training samples seen so far.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` had string column names (a DataFrame).
    coefs_, intercepts_ : list of ndarray
        The Dense kernels and biases, first to last (copies).
    n_layers_ : int
        Hidden layers plus the input and output layers.
    out_activation_ : str"""

CLASSIFIER = (
    """A multi-layer perceptron classifier trained by nnfast, with scikit-learn's interface.

    Multiclass problems end in a softmax layer with sparse categorical cross-entropy; binary
    ones in ONE sigmoid unit with binary cross-entropy (``predict_proba`` still returns two
    columns); multilabel ones (a 0/1 indicator matrix ``y``) in one sigmoid unit per label.
    Labels may be of any type scikit-learn accepts (ints, strings, ...).
""" + _PARAMETERS + """
    Attributes
    ----------
    classes_ : ndarray
        The class labels (0 .. k-1 for multilabel targets).
    n_outputs_ : int
        Output units.""" + _COMMON_ATTRIBUTES + """

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from nnfast.sklearn import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(32,),
    ...                     max_iter=300, random_state=0)).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    """)

REGRESSOR = (
    """A multi-layer perceptron regressor trained by nnfast, with scikit-learn's interface.

    A linear output layer (one unit per target column) trained on the mean squared error;
    ``loss_curve_`` reports scikit-learn's loss (half the mean squared error plus the
    penalty). Predictions have shape (n_samples,) for a single target, as scikit-learn's.
""" + _PARAMETERS + """
    Attributes
    ----------
    n_outputs_ : int
        Target columns.""" + _COMMON_ATTRIBUTES + """

    Examples
    --------
    >>> import numpy as np
    >>> from nnfast.sklearn import MLPRegressor
    >>> X = np.random.default_rng(0).uniform(-1, 1, size=(300, 2))
    >>> y = X[:, 0] ** 2 + X[:, 1]
    >>> reg = MLPRegressor(hidden_layer_sizes=(32,), learning_rate_init=1e-2,
    ...                    random_state=0).fit(X, y)
    >>> reg.score(X, y) > 0.9
    True
    """)
