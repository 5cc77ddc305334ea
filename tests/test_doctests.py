"""Every docstring example in the installed package runs as a test (river's convention)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest
import swapwatch.collector
import swapwatch.detector
import swapwatch.instrumentation

ROOTS = [swapwatch.collector, swapwatch.detector, swapwatch.instrumentation]


def _modules() -> list[str]:
    names: list[str] = []
    for root in ROOTS:
        names.append(root.__name__)
        for info in pkgutil.walk_packages(root.__path__, prefix=root.__name__ + "."):
            names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("module_name", _modules())
def test_docstring_examples(module_name: str) -> None:
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {module_name}"
