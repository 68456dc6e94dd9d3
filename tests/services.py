"""Real services some tests need (PostgreSQL, Chromium): skipped on a machine without them, failed in CI.

The README's test command must work on a fresh machine, which may not have the
system packages; ``.ci/run`` installs them and sets ``ORDERBRIDGE_REQUIRE_SERVICES=1``,
so there a missing service fails its tests instead of skipping them unseen.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

REQUIRE_SERVICES = "ORDERBRIDGE_REQUIRE_SERVICES"


def service_missing(reason: str) -> NoReturn:
    """Skip the test for ``reason``, or fail it where the services are required (CI)."""
    if os.environ.get(REQUIRE_SERVICES) == "1":
        pytest.fail(f"{reason} ({REQUIRE_SERVICES}=1: required here)")
    pytest.skip(reason)
