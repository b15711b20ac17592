"""Every example in nnfast's docstrings runs and prints what it says (doctest)."""

import doctest
import importlib
import pkgutil

import pytest

import nnfast

# Modules whose examples need an optional dependency, and which one.
_NEEDS = {"nnfast.sklearn": "sklearn", "nnfast.cli.demo": "sklearn"}


def _modules():
    for info in pkgutil.walk_packages(nnfast.__path__, "nnfast."):
        if not info.name.split(".")[-1].startswith("__"):
            yield info.name


@pytest.mark.parametrize("name", sorted(_modules()))
def test_docstring_examples(name):
    for prefix, dependency in _NEEDS.items():
        if name.startswith(prefix):
            pytest.importorskip(dependency)
    module = importlib.import_module(name)
    result = doctest.testmod(module, verbose=False, report=True)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"
