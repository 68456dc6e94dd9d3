"""What the test run has installed beyond the core: cases for optional distributions skip without them."""

from __future__ import annotations

import pytest

import orderbridge as ob

# The Acme example is a distribution of its own (docs/examples/orderbridge-acme): .ci/run runs
# the files that use it again once it is installed; a bare checkout skips those cases, saying why.
ACME_INSTALLED = "acme" in ob.available_backends()
needs_acme = pytest.mark.skipif(
    not ACME_INSTALLED,
    reason="the Acme example is not installed (pip install -e docs/examples/orderbridge-acme)",
)


def backend_params(names: list[str]) -> list[object]:
    """``names`` as test parameters, the Acme example's marked as needing it installed."""
    return [pytest.param(n, marks=needs_acme) if n == "acme" else n for n in names]
