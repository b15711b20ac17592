"""``nnfast train DATA --target COL``: fit an MLP to a CSV or NPZ file and save it with its scaler.

The rows are shuffled (seeded) and a validation fraction is held out; the features are
standardized with the training rows' statistics; the task is classification for string labels
or integers with few distinct values, regression otherwise (``--task`` overrides). The model
file holds the network and, in its metadata, everything ``nnfast predict`` needs: the feature
column names, the scaler, the class labels or the target's scaler.
"""

import os
import time

import numpy as np

from nnfast.cli import UsageError
from nnfast.cli.data import read_table
from nnfast.cli.preprocess import apply_scaler, detect_task, encode_labels, fit_scaler

NAME = "train"
HELP = "Train an MLP on a CSV or NPZ file; save it with its feature scaler in one .npz."

METADATA_VERSION = 1


def add_arguments(parser):
    parser.add_argument("data", metavar="DATA", help="a CSV file with a header row, or an NPZ "
                        "archive of named 1-D columns (2-D array A: columns A_0, A_1, ...)")
    parser.add_argument("--target", required=True, metavar="COL", help="the column to predict")
    parser.add_argument("--hidden", default="256,128", metavar="SIZES",
                        help="hidden layer widths, comma-separated, '' for none (default 256,128)")
    parser.add_argument("--epochs", type=int, default=20, help="training epochs (default 20)")
    parser.add_argument("--batch-size", type=int, default=32, help="mini-batch size (default 32)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 0.001)")
    parser.add_argument("--task", choices=("auto", "classification", "regression"), default="auto",
                        help="default auto: string or integer targets with few values are classes")
    parser.add_argument("--out", default="model.npz", metavar="PATH",
                        help="where to write the model (default model.npz)")
    parser.add_argument("--validation-split", type=float, default=0.2, metavar="FRACTION",
                        help="fraction of the rows held out to report metrics on, in [0, 1) "
                             "(default 0.2; 0 reports them on the training rows)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def parse_hidden(text):
    """``"256,128"`` -> ``(256, 128)``; ``""`` -> ``()``; anything else is a UsageError."""
    parts = [p.strip() for p in text.split(",")] if text.strip() else []
    try:
        sizes = tuple(int(p) for p in parts)
    except ValueError:
        sizes = None
    if sizes is None or any(s < 1 for s in sizes):
        raise UsageError(f"Expected --hidden to be comma-separated positive integers such as "
                         f"256,128 (or '' for no hidden layer), received: --hidden {text!r}")
    return sizes


def _check_args(args):
    hidden = parse_hidden(args.hidden)
    for flag, value in (("--epochs", args.epochs), ("--batch-size", args.batch_size)):
        if value < 1:
            raise UsageError(f"Expected {flag} >= 1, received: {flag} {value}")
    if not (args.lr > 0 and np.isfinite(args.lr)):
        raise UsageError(f"Expected --lr > 0, received: --lr {args.lr}")
    if not 0.0 <= args.validation_split < 1.0:
        raise UsageError(f"Expected --validation-split in [0, 1), received: --validation-split "
                         f"{args.validation_split}")
    if args.seed < 0:
        raise UsageError(f"Expected --seed >= 0, received: --seed {args.seed}")
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir):
        raise UsageError(f"cannot write the model to {args.out!r}: no directory {out_dir!r}")
    return hidden


def _target(table, name, task):
    """``(task, reason, numeric values or None)`` for the target column."""
    raw = table.raw(name)
    if raw.dtype.kind in "US":
        empty = np.flatnonzero(np.char.str_len(raw.astype(str)) == 0)
        if empty.size:
            raise UsageError(f"target column {name!r} has an empty value at {table.where(int(empty[0]))}")
    if task == "regression":
        return task, "--task regression", table.numeric(name, role="target")
    try:
        numeric = table.numeric(name, role="target")
    except UsageError:
        if raw.dtype.kind not in "US":
            raise  # numbers that are not finite
        numeric = None
    if task == "classification":
        return task, "--task classification", numeric
    detected, reason = detect_task(numeric)
    return detected, f"auto-detected: {reason}; --task to override", numeric


def _split(n, fraction, rng):
    """Shuffled row indices ``(train, validation)``."""
    order = rng.permutation(n)
    n_val = int(round(n * fraction))
    if fraction > 0 and (n_val < 1 or n_val >= n):
        raise UsageError(f"Expected --validation-split to leave rows on both sides, received: "
                         f"--validation-split {fraction} with {n} rows")
    return order[n_val:], order[:n_val]


def build_model(n_features, hidden, n_outputs, classification, lr, seed):
    """The MLP: ReLU hidden layers (He init), softmax or linear output, Adam."""
    import nnfast as nf

    layers = [nf.layers.Dense(h, activation="relu", kernel_initializer="he_normal") for h in hidden]
    layers.append(nf.layers.Dense(n_outputs, activation="softmax" if classification else None))
    model = nf.Sequential(layers, input_dim=n_features, seed=seed)
    model.compile(optimizer=nf.optimizers.Adam(learning_rate=lr),
                  loss="sparse_categorical_crossentropy" if classification else "mse",
                  metrics=["accuracy"] if classification else ["mae"])
    return model


def regression_metrics(y_true, y_pred):
    """``{"mse", "mae", "r2"}`` (R^2 is nan when the targets are constant)."""
    err = y_pred - y_true
    ss_tot = float(((y_true - y_true.mean()) ** 2).sum())
    return {"mse": float(np.mean(err ** 2)), "mae": float(np.mean(np.abs(err))),
            "r2": 1.0 - float((err ** 2).sum()) / ss_tot if ss_tot > 0 else float("nan")}


def run(args):
    hidden = _check_args(args)
    table = read_table(args.data)
    table.require([args.target], "target column")
    features = [c for c in table.names if c != args.target]
    if not features:
        raise UsageError(f"{os.path.basename(args.data)} has no feature columns besides the "
                         f"target {args.target!r}")
    X = table.features(features)
    task, reason, numeric = _target(table, args.target, args.task)
    classification = task == "classification"
    rng = np.random.default_rng(args.seed)
    tr, va = _split(len(table), args.validation_split, rng)
    scaler = fit_scaler(X[tr])
    Xs = apply_scaler(X, scaler, np.float32)
    meta = {"nnfast_train": METADATA_VERSION, "task": task, "target": args.target,
            "features": features, "scaler": scaler}
    if classification:
        y, meta["classes"] = encode_labels(table.raw(args.target) if numeric is None else numeric)
        n_out = len(meta["classes"])
        shown = ", ".join(repr(c) for c in meta["classes"][:6])
        detail = f"{n_out} classes: {shown}{', ...' if n_out > 6 else ''}"
    else:
        meta["target_scaler"] = target_scaler = fit_scaler(numeric[tr])
        y = apply_scaler(numeric, target_scaler, np.float32)
        n_out, detail = 1, f"target mean {target_scaler['mean'][0]:.4g}, std {target_scaler['scale'][0]:.4g}"

    print(f"data: {args.data}: {len(table)} rows, {len(features)} feature columns, target "
          f"{args.target!r} ({len(tr)} training rows, {len(va)} validation rows)")
    print(f"task: {task} ({reason}); {detail}")
    model = build_model(len(features), hidden, n_out, classification, args.lr, args.seed)
    sizes = "-".join(str(s) for s in (len(features), *hidden, n_out))
    print(f"model: {sizes} MLP, {'ReLU hidden layers, ' if hidden else ''}"
          f"{'softmax' if classification else 'linear'} output, {model.count_params():,} parameters, "
          f"Adam lr {args.lr:g}")
    val = (Xs[va], y[va]) if len(va) else None
    t0 = time.perf_counter()
    try:
        model.fit(Xs[tr], y[tr], epochs=args.epochs, batch_size=args.batch_size,
                  validation_data=val, verbose=0 if args.quiet else 1)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"training failed: {exc}") from None
    elapsed = time.perf_counter() - t0
    rows, where = (va, "validation") if len(va) else (tr, "training")
    if classification:
        result = model.evaluate(Xs[rows], y[rows])
        scores = f"accuracy {result['accuracy']:.4f}  loss {result['loss']:.4f}"
    else:
        ts = meta["target_scaler"]
        pred = model.predict(Xs[rows])[:, 0].astype(np.float64) * ts["scale"][0] + ts["mean"][0]
        m = regression_metrics(numeric[rows], pred)
        scores = f"mse {m['mse']:.6g}  mae {m['mae']:.6g}  R^2 {m['r2']:.4f}"
    print(f"{where} ({len(rows)} rows): {scores}  (training time {elapsed:.2f} s, "
          f"{args.epochs} epochs)")
    try:
        model.save(args.out, metadata=meta)
    except OSError as exc:
        raise UsageError(f"cannot write the model to {args.out!r}: {exc.strerror or exc}") from None
    print(f"saved {args.out} (weights, feature scaler"
          f"{', class labels' if classification else ', target scaler'}): "
          f"nnfast predict {args.out} DATA")
    return 0
