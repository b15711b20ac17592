"""``nnfast demo``: train a 64-128-10 network on scikit-learn's digits and report test accuracy."""

import time

from nnfast.cli import UsageError

NAME = "demo"
HELP = "Train a small network on scikit-learn's handwritten digits, with a progress bar."


def add_arguments(parser):
    parser.add_argument("--epochs", type=int, default=30, help="training epochs (default 30)")
    parser.add_argument("--batch-size", type=int, default=32, help="mini-batch size (default 32)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def load_digits_split(seed):
    """Digits, 70/30 stratified split, standardized with the training statistics."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as exc:
        raise UsageError("the demo needs scikit-learn for its dataset: pip install scikit-learn") from exc
    import numpy as np

    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y)
    mean, std = X_tr.mean(axis=0), X_tr.std(axis=0)
    std[std == 0] = 1.0
    return ((X_tr - mean) / std).astype(np.float32), y_tr, ((X_te - mean) / std).astype(np.float32), y_te


def run(args):
    if args.epochs < 1 or args.batch_size < 1:
        raise UsageError(f"--epochs and --batch-size must be >= 1, received {args.epochs} and {args.batch_size}")
    import nnfast as nf

    X_tr, y_tr, X_te, y_te = load_digits_split(args.seed)
    print(f"digits: {len(X_tr)} training and {len(X_te)} test images of 8x8 pixels, 10 classes")
    model = nf.Sequential(
        [nf.layers.Dense(128, activation="relu", kernel_initializer="he_normal"),
         nf.layers.Dense(10, activation="softmax")],
        input_dim=X_tr.shape[1], seed=args.seed,
    )
    model.compile(optimizer=nf.optimizers.Adam(learning_rate=1e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    if not args.quiet:
        model.summary()
    t0 = time.perf_counter()
    model.fit(X_tr, y_tr, epochs=args.epochs, batch_size=args.batch_size,
              validation_split=0.1, verbose=0 if args.quiet else 1)
    elapsed = time.perf_counter() - t0
    result = model.evaluate(X_te, y_te)
    print(f"test accuracy: {result['accuracy']:.4f}  test loss: {result['loss']:.4f}  "
          f"training time: {elapsed:.2f} s ({args.epochs} epochs, {nf.get_num_threads()} threads)")
    return 0
