"""The competitors nnfast is measured against, each training the same MLP the same way.

* ``NumpyMLP``: a tight NumPy implementation of the textbook training loop (ReLU hidden layers,
  softmax cross-entropy or sigmoid + binary cross-entropy, Adam with torch's update rule), with
  preallocated Adam state and in-place updates: the best plain NumPy we know how to write.
* ``torch_trainer``: PyTorch eager, manual batching (no DataLoader), ``Adam(fused=...)``.
* ``sklearn_trainer``: scikit-learn's ``MLPClassifier(solver="adam")``, one epoch per ``fit``.

Every trainer is a callable ``train_epoch()`` that runs one shuffled epoch over ``X, y``.
"""

import numpy as np


class NumpyMLP:
    """An MLP trained with NumPy only: relu hidden layers, fused softmax/sigmoid loss, Adam."""

    def __init__(self, sizes, dtype=np.float32, seed=0, lr=1e-3, binary=False):
        rng = np.random.default_rng(seed)
        self.W = [(rng.standard_normal((a, b)) * np.sqrt(2.0 / a)).astype(dtype) for a, b in zip(sizes, sizes[1:])]
        self.b = [np.zeros(b, dtype) for b in sizes[1:]]
        self.params = self.W + self.b
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.lr, self.t, self.binary, self.rng = lr, 0, binary, rng

    def forward(self, x):
        acts = [x]
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            z = acts[-1] @ W
            z += b
            if i < len(self.W) - 1:
                np.maximum(z, 0, out=z)
            acts.append(z)
        return acts

    def step(self, x, y):
        acts = self.forward(x)
        z = acts[-1]
        n = x.shape[0]
        if self.binary:
            p = 1.0 / (1.0 + np.exp(-z))
            dz = (p - y.reshape(-1, 1)) / n
        else:
            z -= z.max(axis=1, keepdims=True)
            np.exp(z, out=z)
            z /= z.sum(axis=1, keepdims=True)
            z[np.arange(n), y] -= 1
            z /= n
            dz = z
        grads_W, grads_b = [None] * len(self.W), [None] * len(self.W)
        for i in range(len(self.W) - 1, -1, -1):
            grads_W[i] = acts[i].T @ dz
            grads_b[i] = dz.sum(axis=0)
            if i:
                dz = dz @ self.W[i].T
                dz *= acts[i] > 0
        self._adam(grads_W + grads_b)

    def _adam(self, grads, b1=0.9, b2=0.999, eps=1e-8):
        self.t += 1
        step = self.lr / (1 - b1**self.t)
        bc2 = np.sqrt(1 - b2**self.t)
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * (g * g)
            denom = np.sqrt(v)
            denom /= bc2
            denom += eps
            p -= step * (m / denom)

    def trainer(self, X, y, batch_size):
        def train_epoch():
            idx = self.rng.permutation(len(X))
            for s in range(0, len(X), batch_size):
                j = idx[s:s + batch_size]
                self.step(X[j], y[j])
        return train_epoch

    def predict(self, x):
        return self.forward(x)[-1]


def torch_trainer(sizes, X, y, batch_size, *, fused=True, threads=None, binary=False, dtype="float32", seed=0):
    """One-epoch trainer with PyTorch eager; returns ``(train_epoch, model)``."""
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    tdtype = getattr(torch, dtype)
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(torch.nn.Linear(a, b, dtype=tdtype))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused)
    Xt = torch.from_numpy(X)
    yt = torch.from_numpy(y.astype(np.float32 if binary else np.int64))
    if binary:
        yt = yt.to(tdtype).reshape(-1, 1)
    loss_fn = torch.nn.BCEWithLogitsLoss() if binary else torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)

    def train_epoch():
        perm = torch.randperm(len(Xt), generator=gen)
        for s in range(0, len(Xt), batch_size):
            j = perm[s:s + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(Xt[j]), yt[j])
            loss.backward()
            opt.step()

    return train_epoch, model


def sklearn_trainer(sizes, X, y, batch_size, seed=0):
    """One-epoch trainer with scikit-learn's MLPClassifier (adam, partial_fit per epoch)."""
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=tuple(sizes[1:-1]), solver="adam", batch_size=batch_size,
                        learning_rate_init=1e-3, alpha=0.0, random_state=seed, shuffle=True)
    classes = np.unique(y)

    def train_epoch():
        clf.partial_fit(X, y, classes=classes)

    return train_epoch, clf
