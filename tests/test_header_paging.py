"""Paging and counting by headers (X-WP-TotalPages / X-WP-Total style), tested with `responses`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
import responses

import orderbridge as ob

BASE = "https://shop.example/wp-json/wc/v3"


class HeaderShop(ob.Backend):
    """A backend of a WooCommerce-like API: pages and totals in headers."""

    name: ClassVar[str] = "header-shop"
    capabilities: ClassVar[frozenset[str]] = frozenset({ob.Capability.READ})

    def __init__(self, per_page: int = 2) -> None:
        self.per_page = per_page
        self.transport = ob.Transport(BASE, max_retries=0)

    @classmethod
    def to_canonical(cls, doc: Any) -> ob.Order:
        return ob.Order(source=ob.SourceRef(cls.name, str(doc["id"])), number=str(doc["id"]))

    def _iter_documents(self, **filters: Any) -> Iterator[Any]:
        pager = ob.PageNumberPaginator(self._page, key=lambda doc: doc["id"])
        self.paging_stats = pager.stats
        return iter(pager)

    def _page(self, page: int) -> tuple[Any, int | None, int | None]:
        answer = self.transport.fetch("GET", "orders", params={"page": page, "per_page": self.per_page})
        return ob.pages_from_headers(answer, page, per_page=self.per_page)

    def _count_orders(self, **filters: Any) -> int | None:
        return self.transport.fetch("GET", "orders", params={"per_page": 1}).header_int("X-WP-Total")


def _serve(mock: responses.RequestsMock, ids: list[int], *, per_page: int = 2, **headers: str) -> None:
    pages = [ids[i : i + per_page] for i in range(0, len(ids), per_page)] or [[]]
    for n, chosen in enumerate(pages, start=1):
        sent = {"X-WP-Total": str(len(ids)), "X-WP-TotalPages": str(len(pages) if ids else 0), **headers}
        mock.get(
            f"{BASE}/orders",
            match=[responses.matchers.query_param_matcher({"page": str(n), "per_page": str(per_page)})],
            json=[{"id": i} for i in chosen],
            headers=sent,
        )


@pytest.mark.parametrize("count", [0, 1, 2, 3, 4, 5])
def test_pages_by_the_total_pages_header(mock: responses.RequestsMock, count: int) -> None:
    ids = list(range(1, count + 1))
    _serve(mock, ids)
    backend = HeaderShop()
    assert [o.number for o in backend.iter_orders()] == [str(i) for i in ids]
    assert backend.paging_stats is not None and backend.paging_stats.claimed == count
    assert len(mock.calls) == max(1, -(-count // 2)), "one request per page, none past the last"


def test_a_total_pages_header_that_lies_cannot_make_paging_loop(mock: responses.RequestsMock) -> None:
    _serve(mock, [1, 2], **{"X-WP-TotalPages": "9"})
    mock.get(f"{BASE}/orders", json=[], headers={"X-WP-TotalPages": "9"})
    assert [o.number for o in HeaderShop().iter_orders()] == ["1", "2"]


def test_without_a_pages_header_the_total_decides() -> None:
    class Answer:
        def __init__(self, items: list[Any], total: int | None) -> None:
            self.items, self.total = items, total

        def json(self) -> Any:
            return self.items

        def header_int(self, name: str) -> int | None:
            return self.total if name == "X-Total-Count" else None

    def page(answer: Answer, n: int) -> tuple[Any, int | None, int | None]:
        return ob.pages_from_headers(answer, n, per_page=2, total_pages=None, total="X-Total-Count")

    assert page(Answer([1, 2], 4), 1) == ([1, 2], 2, 4)
    assert page(Answer([3, 4], 4), 2) == ([3, 4], None, 4)
    assert page(Answer([1, 2], None), 1)[1] == 2  # a full page, no total: ask for the next
    assert page(Answer([1], None), 1)[1] is None


def test_count_orders_reads_the_total_header(mock: responses.RequestsMock) -> None:
    mock.get(
        f"{BASE}/orders",
        match=[responses.matchers.query_param_matcher({"per_page": "1"})],
        json=[{"id": 1}],
        headers={"X-WP-Total": "1234", "X-WP-TotalPages": "1234"},
    )
    assert HeaderShop().count_orders() == 1234
    assert len(mock.calls) == 1


def test_count_orders_is_none_without_the_header(mock: responses.RequestsMock) -> None:
    mock.get(f"{BASE}/orders", json=[])
    assert HeaderShop().count_orders() is None
