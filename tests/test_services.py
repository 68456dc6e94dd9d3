"""A missing service skips its tests on a developer's machine and fails them where it is required (CI)."""

from __future__ import annotations

import pytest

from .services import REQUIRE_SERVICES, service_missing


def test_a_missing_service_skips_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE_SERVICES, raising=False)
    with pytest.raises(pytest.skip.Exception, match="no PostgreSQL"):
        service_missing("no PostgreSQL")


def test_a_missing_service_fails_where_services_are_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REQUIRE_SERVICES, "1")
    with pytest.raises(pytest.fail.Exception, match=r"no PostgreSQL .*required here"):
        service_missing("no PostgreSQL")
