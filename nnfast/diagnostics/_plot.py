"""matplotlib, imported only when a plot is asked for: a Figure on the Agg canvas."""

__all__ = ["figure", "finish"]


def figure(what, **kw):
    """A ``matplotlib.figure.Figure`` (constrained layout, Agg canvas), or a clear ImportError."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # optional dependency
        raise ImportError(f"{what} needs matplotlib (pip install matplotlib)") from exc
    fig = Figure(layout="constrained", **kw)
    FigureCanvasAgg(fig)
    return fig


def finish(fig, path):
    """Save ``fig`` to ``path`` when given (format from the extension); return it."""
    if path is not None:
        fig.savefig(path)
    return fig
