"""The Parcelo backend is registered as a plugin for these tests only; ``NEVERSEEN_BUG`` plants a bug."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

import orderbridge as ob

from . import backend
from .bugs import BUGS


@pytest.fixture(autouse=True, scope="module")
def parcelo_plugin() -> Iterator[str | None]:
    """Register ``parcelo`` through the plugin manager (as an installed plugin would be), with the bug."""
    bug = os.environ.get("NEVERSEEN_BUG") or None
    ob.register(backend, name="parcelo-tests")
    with pytest.MonkeyPatch.context() as mp:
        if bug is not None:
            BUGS[bug](mp)
        yield bug
    ob.unregister(name="parcelo-tests")
