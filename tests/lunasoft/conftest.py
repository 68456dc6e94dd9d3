from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from orderbridge import jsonutil

HERE = Path(__file__).parent


def load(name: str) -> Any:
    """A sample of the API page, made strict JSON (trailing comma and "......." removed)."""
    return jsonutil.loads((HERE / name).read_text(encoding="utf-8"))


@pytest.fixture
def sample_order() -> dict[str, Any]:
    return copy.deepcopy(load("sample_order.json"))


@pytest.fixture
def sample_list() -> dict[str, Any]:
    return copy.deepcopy(load("sample_list.json"))


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LUNASOFT_API_KEY", raising=False)
