"""The jsonl backend runs the conformance suite like any plugin."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

import orderbridge as ob
from orderbridge.testing import BackendConformance, PagedBackendFactory

from .strategies import orders


def _order(i: int) -> ob.Order:
    return ob.Order(
        source=ob.SourceRef("webinone-v1", str(i)),
        number=str(i),
        total=Decimal("12.30"),
        lines=[ob.OrderLine(product_name="Mug ☕", quantity=Decimal(2), unit_price=Decimal("6.15"))],
    )


class TestJsonlConformance(BackendConformance):
    stores_foreign_orders = True

    @pytest.fixture
    def backend_class(self) -> type[ob.Backend]:
        return ob.get_backend("jsonl")

    @pytest.fixture
    def sample_documents(self) -> list[dict[str, Any]]:
        return [ob.order_to_dict(_order(i)) for i in range(3)]

    @pytest.fixture
    def backend(self, tmp_path: Path) -> ob.Backend:
        backend = ob.connect("jsonl", path=tmp_path / "orders.jsonl")
        for i in range(25):
            backend.create_order(_order(i))
        return backend

    @pytest.fixture
    def expected_order_count(self) -> int:
        return 25

    @pytest.fixture
    def paged_backend_factory(self, tmp_path: Path) -> PagedBackendFactory:
        # A file has no pages: read line by line, a "page" is one order (sizes 0 to 3).
        def factory(count: int) -> tuple[ob.Backend, int]:
            path = tmp_path / f"paged-{count}.jsonl"
            path.touch()  # an empty file, not a missing one (that is an error)
            backend = ob.connect("jsonl", path=path)
            for i in range(count):
                backend.create_order(_order(i))
            return backend, 1

        return factory


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(orders)
def test_any_canonical_order_round_trips_through_the_jsonl_document(order: ob.Order) -> None:
    backend = ob.get_backend("jsonl")
    assert backend.to_canonical(backend.from_canonical(order)) == order
