"""Shared pytest setup: hypothesis profiles and the thread-count fixture."""

import os

import pytest
from hypothesis import HealthCheck, settings

# Kernels go parallel from 32,768 work units in the tests, whatever waking a thread team costs
# on this machine (nnfast measures that at import and would raise the threshold), so that the
# thread-count tests exercise the multi-threaded paths at test sizes. Set before nnfast loads.
os.environ["NNFAST_PAR_MIN_WORK"] = "32768"

settings.register_profile(
    "ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(autouse=True)
def _restore_threads():
    """Tests may change the thread count; put it back afterwards."""
    import nnfast as nf

    before = nf.get_num_threads()
    yield
    if nf.get_num_threads() != before:
        nf.set_num_threads(before)


@pytest.fixture
def count_validation(monkeypatch):
    """The ``reset`` argument of every scikit-learn ``validate_data`` call the nnfast.sklearn
    estimators make (their fast paths skip it)."""
    pytest.importorskip("sklearn")
    from nnfast.sklearn import _base

    calls = []
    real = _base.validate_data

    def spy(*args, **kwargs):
        calls.append(kwargs.get("reset"))
        return real(*args, **kwargs)

    monkeypatch.setattr(_base, "validate_data", spy)
    return calls
