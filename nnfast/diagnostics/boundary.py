"""Decision boundary of a model with two inputs: predictions over a grid, and the data on top."""

import numpy as np

from nnfast.diagnostics._common import check_model, integer, real
from nnfast.diagnostics._plot import figure, finish

__all__ = ["plot_decision_boundary"]


def _labels(y, n):
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        y = np.argmax(y, axis=1)
    y = y.reshape(-1)
    if y.shape[0] != n:
        raise ValueError(f"Expected y with one label per row of X ({n}), received: "
                         f"y.shape={np.shape(y)}")
    return y


def plot_decision_boundary(model, X, y=None, path=None, *, resolution=200, padding=0.1,
                           title=None):
    """Filled contours of the model's prediction over the plane, with the samples scattered.

    One output (sigmoid, or regression): the predicted value, with the 0.5 level drawn when
    the outputs lie in [0, 1]. Several outputs: the predicted class (argmax).

    Parameters
    ----------
    model : Sequential
        Built (or with ``input_dim``) with ``input_dim == 2``.
    X : array-like of shape (n, 2)
        The samples; the grid spans their range, widened by ``padding`` on each side.
    y : array-like, optional
        Labels ``(n,)`` (or one-hot ``(n, k)``) colouring the samples. Defaults to None (one
        colour).
    path : str or path-like, optional
        Where to save the figure (format from the extension). Defaults to None (not saved).
    resolution : int
        Grid points per axis, at least 2. Defaults to 200.
    padding : float
        Margin around the data as a fraction of its range, >= 0. Defaults to 0.1.
    title : str, optional
        The axes title. Defaults to None.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, nnfast as nf
    >>> X = np.random.default_rng(0).normal(size=(40, 2)); y = (X[:, 0] > 0).astype(int)
    >>> model = nf.Sequential([nf.layers.Dense(1, activation="sigmoid")], input_dim=2, seed=0)
    >>> fig = nf.diagnostics.plot_decision_boundary(model, X, y)  # doctest: +SKIP
    """
    check_model(model, "plot_decision_boundary", compiled=False)
    if model.input_dim != 2:
        raise ValueError(f"Expected a model with 2 inputs, received: model.input_dim="
                         f"{model.input_dim}")
    X = model._inputs(X)
    labels = None if y is None else _labels(y, X.shape[0])
    resolution = integer(resolution, "resolution", low=2)
    padding = real(padding, "padding", low=0.0)
    fig = figure("plot_decision_boundary", figsize=(5.0, 4.2))
    lo, hi = X.min(axis=0).astype(np.float64), X.max(axis=0).astype(np.float64)
    span = np.where(hi > lo, hi - lo, 1.0)
    lo, hi = lo - padding * span, hi + padding * span
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution),
                         np.linspace(lo[1], hi[1], resolution))
    out = model.predict(np.column_stack([gx.ravel(), gy.ravel()]))
    ax = fig.subplots()
    if out.shape[1] == 1:
        z = out[:, 0].reshape(gx.shape).astype(np.float64)
        probs = bool(z.min() >= 0.0 and z.max() <= 1.0)
        colours = dict(cmap="RdBu_r", vmin=0.0, vmax=1.0) if probs else dict(cmap="RdBu_r")
        filled = ax.contourf(gx, gy, z, levels=np.linspace(0.0, 1.0, 11) if probs else 20,
                             alpha=0.8, **colours)
        if probs and z.min() < 0.5 < z.max():
            ax.contour(gx, gy, z, levels=[0.5], colors="k", linewidths=1.0)
        fig.colorbar(filled, ax=ax, label="prediction")
    else:
        k = out.shape[1]
        colours = dict(cmap="tab10" if k <= 10 else "viridis", vmin=-0.5,
                       vmax=(9.5 if k <= 10 else k - 0.5))
        z = np.argmax(out, axis=1).reshape(gx.shape)
        ax.contourf(gx, gy, z, levels=np.arange(k + 1) - 0.5, alpha=0.35, **colours)
    if labels is None:
        ax.scatter(X[:, 0], X[:, 1], s=12, c="k")
    else:
        ax.scatter(X[:, 0], X[:, 1], s=14, c=labels, edgecolors="k", linewidths=0.4, **colours)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    if title is not None:
        ax.set_title(str(title))
    return finish(fig, path)
