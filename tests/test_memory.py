"""The aligned buffers behind the flat parameter, gradient, optimizer-state and plan arrays."""

import numpy as np
import pytest

import nnfast as nf
from nnfast._memory import aligned_zeros


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.intp])
@pytest.mark.parametrize("n", [0, 1, 7, 1000])
def test_aligned_zero_filled_and_views_keep_their_base(dtype, n):
    a = aligned_zeros(n, dtype)
    assert a.shape == (n,) and a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable
    assert a.ctypes.data % 64 == 0
    assert not a.any()
    if n > 3:
        v = a[2:].reshape(-1)[1:]
        assert v.base is a
        v[0] = 5
        assert a[3] == 5


def test_aligned_to_other_boundaries():
    for alignment in (16, 128, 4096):
        assert aligned_zeros(33, np.float32, alignment).ctypes.data % alignment == 0


def test_model_buffers_start_on_cache_lines():
    model = nf.Sequential([nf.layers.Dense(5, activation="relu"), nf.layers.Dense(3)],
                          input_dim=7, seed=0)
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((8, 7), np.float32), np.zeros((8, 3), np.float32), epochs=1, verbose=0)
    store = model._store
    for buf in (store.params, store.grads, *model.optimizer.slots.values()):
        assert buf.ctypes.data % 64 == 0
