"""What every diagnostic shares: argument checks, a private copy of the model, text tables.

The diagnostics never run on the user's model itself: they work on a *twin*, a new
``Sequential`` built from the layers' configs (``type(layer).from_config(layer.get_config())``,
so subclasses keep their own ``forward``/``backward``), holding a copy of the weights (moving
statistics included) in the dtype asked for. The user's weights, optimizer state, buffers and
random generator are therefore never touched.
"""

import copy
import math
import numbers

from nnfast.callbacks._checks import integer, real

__all__ = ["check_model", "twin", "sync", "trainable_tensors", "format_table", "integer", "real",
           "optional_int"]


def check_model(model, what, *, compiled=True):
    """Raise unless ``model`` is a Sequential that is built (or buildable) and compiled if asked."""
    from nnfast.model import Sequential

    if not isinstance(model, Sequential):
        raise TypeError(f"Expected model to be an nnfast.Sequential, received: "
                        f"model={type(model).__name__}")
    if compiled and not model.compiled:
        raise ValueError(f"Expected a compiled model for {what}: call model.compile(optimizer, "
                         "loss) first, received: model not compiled")
    if not model.built:
        if model.input_dim is None:
            raise ValueError(f"Expected a built model for {what}, received: model not built "
                             "(give input_dim to Sequential, or call fit or build first)")
        model.build()


def twin(model, dtype=None, *, optimizer=None, compile=True):
    """A new model with ``model``'s layers, weights and loss (compiled when ``model`` is).

    Parameters
    ----------
    model : Sequential
        Built.
    dtype : dtype, optional
        Defaults to the model's.
    optimizer : Optimizer, optional
        For the twin's compile. Defaults to ``SGD(0.0)`` (the diagnostics that only compute
        gradients never step).
    compile : bool
        Compile the twin when ``model`` is compiled. Defaults to True.
    """
    from nnfast import optimizers
    from nnfast.model import Sequential

    layers = []
    for layer in model.layers:
        try:
            layers.append(type(layer).from_config(layer.get_config()))
        except Exception as exc:  # a custom layer whose config does not rebuild it
            raise TypeError(f"Expected layers that from_config(get_config()) rebuilds, received: "
                            f"layer {layer.name!r} ({type(layer).__name__}: {exc})") from exc
    copy_ = Sequential(layers, input_dim=model.input_dim,
                       dtype=model.dtype if dtype is None else dtype, seed=0,
                       name=f"{model.name}_twin")
    copy_.build()
    copy_.set_weights(model.get_weights())
    if compile and model.compiled:
        copy_.compile(optimizers.SGD(0.0) if optimizer is None else optimizer,
                      copy.deepcopy(model.loss))
    return copy_


def sync(model, copy_):
    """Copy ``model``'s weights and trainable flags into its twin ``copy_``."""
    for a, b in zip(model.layers, copy_.layers):
        b.trainable = a.trainable
    copy_.set_weights(model.get_weights())


def trainable_tensors(model):
    """``[(layer name, weight name, view)]`` in :meth:`Sequential.compute_gradients` order."""
    layers = model.layers
    trainable = [layer.trainable for layer in layers]
    return [(layers[s.layer].name, s.name, layers[s.layer].params[s.name])
            for s in model._store.trainable_slots(trainable)]


def optional_int(value, name, low=1):
    return None if value is None else integer(value, name, low=low)


def _cell(value):
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        v = float(value)
        if v == 0.0 or not math.isfinite(v):
            return f"{v:g}"
        return f"{v:.3g}" if 1e-3 <= abs(v) < 1e4 else f"{v:.2e}"
    if isinstance(value, tuple):
        return "(" + ", ".join(str(v) for v in value) + ")"
    return str(value)


def format_table(headers, rows, title=None):
    """A fixed-width text table: first column left-aligned, the others right-aligned."""
    cells = [list(headers)] + [[_cell(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(r, widths)))

    rule = "─" * (sum(widths) + 2 * (len(widths) - 1))
    out = ([title] if title else []) + [rule, line(cells[0]), rule]
    out += [line(r) for r in cells[1:]] + [rule]
    return "\n".join(out)

