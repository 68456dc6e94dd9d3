from __future__ import annotations

import base64
import copy
import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import responses
from orderbridge_lunasoft import LunasoftCartBackend
from orderbridge_lunasoft.generator import generate_orders
from responses import matchers

import orderbridge as ob

BASE = "https://shop.example.com/api/v1/shopping_cart"
ORDERS = BASE + "/orders"
CANARY = "canary-KEY-8e7d6c5b4a"


def client(**options: Any) -> LunasoftCartBackend:
    options.setdefault("api_key", CANARY)
    backend = ob.connect("lunasoft-cart", base_url=BASE, sleep=lambda s: None, **options)
    assert isinstance(backend, LunasoftCartBackend)
    return backend


def list_docs(count: int, start: int = 1) -> list[dict[str, Any]]:
    docs = []
    for doc in generate_orders(count, seed=start, start_id=start):
        doc.pop("statuses")
        docs.append(doc)
    return docs


def page(rsps: responses.RequestsMock, query: dict[str, str], docs: list[Any], next_page: int | bool) -> None:
    rsps.get(
        ORDERS,
        json={"orders": docs, "next_page": next_page},
        match=[matchers.query_param_matcher(query, strict_match=True),
               matchers.header_matcher({"Authorization": f"Bearer {CANARY}"})],
    )  # fmt: skip


def test_registered() -> None:
    assert ob.get_backend("lunasoft-cart") is LunasoftCartBackend
    assert LunasoftCartBackend.capabilities == {"read", "add-status"}


def test_paging_by_id_from_the_last_id_read() -> None:
    # Sorted by id, the walk asks for "id >= the last id read" (the filter's meaning): no page
    # numbers to shift when orders are deleted or added while it runs.
    first, second = list_docs(50, 1), list_docs(4, 50)
    with responses.RequestsMock() as rsps:
        page(rsps, {"sort": "id", "page": "1"}, first, 2)
        page(rsps, {"sort": "id", "page": "1", "id": "50"}, second, False)  # the seam (50) and 3 more
        orders = list(client(fetch_statuses=False).iter_orders())
        assert [c.request.method for c in rsps.calls] == ["GET", "GET"]  # a short page is the last
    assert [o.source.remote_id for o in orders] == [str(i) for i in range(1, 54)]  # type: ignore[union-attr]


def test_paging_by_page_number_for_other_sorts() -> None:
    first, second = list_docs(50, 4), list_docs(3, 1)
    with responses.RequestsMock() as rsps:
        page(rsps, {"sort": "-id", "page": "1"}, first[::-1], 2)
        page(rsps, {"sort": "-id", "page": "2"}, second[::-1], False)
        orders = list(client(fetch_statuses=False).iter_orders(sort="-id"))
    assert [o.source.remote_id for o in orders] == [str(i) for i in range(53, 0, -1)]  # type: ignore[union-attr]


def test_empty_first_page() -> None:
    with responses.RequestsMock() as rsps:
        page(rsps, {"sort": "id", "page": "1"}, [], False)
        assert list(client().iter_orders()) == []
        assert len(rsps.calls) == 1


def test_exactly_fifty_and_no_more() -> None:
    with responses.RequestsMock() as rsps:
        page(rsps, {"sort": "id", "page": "1"}, list_docs(50), False)
        page(rsps, {"sort": "id", "page": "1", "id": "50"}, list_docs(1, 50), False)  # only the seam
        assert len(list(client(fetch_statuses=False).iter_orders())) == 50
        assert len(rsps.calls) == 2


def test_an_empty_page_ends_the_walk_even_with_next_page() -> None:
    with responses.RequestsMock() as rsps:
        page(rsps, {"sort": "id", "page": "1"}, [], 2)
        assert list(client().iter_orders()) == []


def test_filters_and_sort_on_the_wire() -> None:
    after = datetime(2015, 4, 27, 17, 34, 31, tzinfo=timezone(timedelta(hours=-6)))
    query = {"sort": "-created", "id": "500", "created_on_after": "2015-04-27T17:34:31-06:00", "page": "3"}
    with responses.RequestsMock() as rsps:
        page(rsps, query, [], False)
        list(client().iter_orders(sort="-created", id=500, created_on_after=after, page=3))
    with pytest.raises(ob.ConfigurationError):
        list(client().iter_orders(sort="total"))
    with pytest.raises(ob.ConfigurationError):
        list(client().iter_orders(status="x"))
    with pytest.raises(ob.ConfigurationError):
        list(client().iter_orders(created_on_after=datetime(2015, 1, 1)))


def test_list_then_get_each_order_for_its_statuses(sample_order: dict[str, Any]) -> None:
    listed = {k: v for k, v in sample_order.items() if k != "statuses"}
    with responses.RequestsMock() as rsps:
        page(rsps, {"sort": "id", "page": "1"}, [listed], False)
        rsps.get(ORDERS + "/54123", json=sample_order, match=[matchers.query_param_matcher({})])
        (order,) = client().iter_orders()
    assert [c.status for c in order.status_history] == ["Processing", "Shipped", "Complete"]


def test_malformed_pages() -> None:
    for body in ({"items": []}, {"orders": [], "next_page": "x"}, {"orders": [{"id": "1"}], "next_page": 1}):
        with responses.RequestsMock() as rsps:
            rsps.get(ORDERS, json=body)
            with pytest.raises(ob.MalformedResponse):
                list(client(fetch_statuses=False).iter_orders())


def test_get_order(sample_order: dict[str, Any]) -> None:
    with responses.RequestsMock() as rsps:
        rsps.get(ORDERS + "/54123", json=sample_order, match=[matchers.query_param_matcher({})])
        order = client().get_order("54123")
        assert rsps.calls[0].request.method == "GET"
    assert order.total is not None and str(order.total) == "322.85"
    with responses.RequestsMock() as rsps:
        rsps.get(ORDERS + "/9", status=404, json={"errors": ["order not found"]})
        with pytest.raises(ob.NotFound):
            client().get_order("9")


def test_add_status_posts_the_documented_body(sample_order: dict[str, Any]) -> None:
    answer = copy.deepcopy(sample_order)
    answer["statuses"].insert(0, dict(answer["statuses"][0], id="188", status="Shipped", notes="Tracking #1",
                                      created="2015-07-16T08:50:07-0600"))  # fmt: skip
    answer["current_status"] = "Shipped"
    body = {"status": {"status": "Shipped", "notes": "Tracking #1", "notify_customer": False}}
    with responses.RequestsMock() as rsps:
        match = [matchers.json_params_matcher(body, strict_match=True), matchers.query_param_matcher({})]
        rsps.post(ORDERS + "/54123", json=answer, match=match)
        order = client().add_status("54123", ob.StatusChange(status="Shipped", notes="Tracking #1"))
        assert rsps.calls[0].request.method == "POST"
    assert order.status_history[-1].status == "Shipped" and order.status_history[-1].remote_id == "188"
    body = {"status": {"status": "Complete", "notes": "", "notify_customer": True}}
    with responses.RequestsMock() as rsps:
        rsps.post(ORDERS + "/54123", json=sample_order, match=[matchers.json_params_matcher(body)])
        client().add_status("54123", ob.StatusChange(status="Complete", notify_customer=True))


@pytest.mark.parametrize("status", [200, 422])
def test_a_refused_status_raises_rejected(sample_order: dict[str, Any], status: int) -> None:
    answer = dict(sample_order, errors=["Invalid status: Lost"])
    with responses.RequestsMock() as rsps:
        rsps.post(ORDERS + "/54123", json=answer, status=status)
        with pytest.raises(ob.Rejected) as info:
            client().add_status("54123", ob.StatusChange(status="Lost"))
        assert len(rsps.calls) == 1  # a POST is never repeated
    assert info.value.messages == ("Invalid status: Lost",)


def test_a_lost_answer_to_a_post_is_ambiguous() -> None:
    with responses.RequestsMock() as rsps:
        rsps.post(ORDERS + "/54123", status=502)
        with pytest.raises(ob.AmbiguousWrite):
            client().add_status("54123", ob.StatusChange(status="Shipped"))
        assert len(rsps.calls) == 1


def test_create_update_delete_send_nothing() -> None:
    order = ob.Order()
    with responses.RequestsMock() as rsps:
        backend = client()
        with pytest.raises(ob.UnsupportedOperation):
            backend.create_order(order)
        with pytest.raises(ob.UnsupportedOperation):
            backend.update_order("1", order)
        with pytest.raises(ob.UnsupportedOperation):
            backend.delete_order("1")
        assert len(rsps.calls) == 0
    assert backend.count_orders() is None


def test_api_key_in_another_header_and_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with responses.RequestsMock() as rsps:
        rsps.get(ORDERS + "/1", status=404, match=[matchers.header_matcher({"X-Api-Key": CANARY})])
        with pytest.raises(ob.NotFound):
            client(api_key_header="X-Api-Key", api_key_prefix="").get_order("1")
    monkeypatch.setenv("LUNASOFT_API_KEY", "from-env-key")
    with responses.RequestsMock() as rsps:
        match = [matchers.header_matcher({"Authorization": "Bearer from-env-key"})]
        rsps.get(ORDERS + "/1", status=404, match=match)
        with pytest.raises(ob.NotFound):
            ob.connect("lunasoft-cart", base_url=BASE).get_order("1")


def test_basic_auth() -> None:
    token = base64.b64encode(b"shop:pa55word").decode()
    with responses.RequestsMock() as rsps:
        match = [matchers.header_matcher({"Authorization": f"Basic {token}"})]
        rsps.get(ORDERS + "/1", status=404, match=match)
        with pytest.raises(ob.NotFound):
            ob.connect("lunasoft-cart", base_url=BASE, username="shop", password="pa55word").get_order("1")


def test_configuration_errors() -> None:
    with pytest.raises(ob.ConfigurationError):
        ob.connect("lunasoft-cart", base_url=BASE)  # no key anywhere
    with pytest.raises(ob.ConfigurationError):
        ob.connect("lunasoft-cart", base_url=BASE, api_key="k", username="u", password="p")
    with pytest.raises(ob.ConfigurationError):
        ob.connect("lunasoft-cart", base_url=BASE, username="u")
    with pytest.raises(ob.ConfigurationError):
        ob.connect("lunasoft-cart", base_url="http://shop.example.com/cart", api_key="k")
    with pytest.raises(ob.ConfigurationError):
        ob.connect("lunasoft-cart", api_key="k")
    ob.connect("lunasoft-cart", base_url="http://shop.example.com/cart", api_key="k", allow_http=True)


def test_canary_key_never_in_errors_logs_or_reprs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    backend = client(max_retries=2)
    seen = [repr(backend), repr(backend.transport), repr(backend.transport.auth)]
    with responses.RequestsMock() as rsps:
        rsps.get(ORDERS + "/1", status=401, json={"errors": [f"bad key {CANARY}"]})
        rsps.get(ORDERS + "/2", status=503, body=f"down; Authorization: Bearer {CANARY}")
        rsps.post(ORDERS + "/3", status=422, json={"errors": [f"no {CANARY}"]})
        for call in (lambda: backend.get_order("1"), lambda: backend.get_order("2"),
                     lambda: backend.add_status("3", ob.StatusChange(status="x"))):  # fmt: skip
            with pytest.raises(ob.TransportError) as info:
                call()
            seen += [str(info.value), repr(info.value), json.dumps(vars(info.value), default=str)]
    seen.append(caplog.text)
    for text in seen:
        assert CANARY not in text
