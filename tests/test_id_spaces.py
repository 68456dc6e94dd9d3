"""Ids belong to a system: ``from_canonical`` writes another platform's ids nowhere, and says so."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from orderbridge_lunasoft import LunasoftCartBackend as Cart
from orderbridge_webinone import WebinOneV1, WebinOneV2

import orderbridge as ob
from orderbridge import jsonutil
from orderbridge.cli import main

SAMPLES = Path(__file__).parent
LUNASOFT_IDS = {"54123", "628", "16383", "3223", "502", "185", "186", "187", "54000", "41", "9"}
"""The ids of the Lunasoft order below (order, user, product, line, gift certificate, statuses,
parent order, attribute and option)."""
FOREIGN = "a lunasoft-cart id, not a webinone id: not written"


def _lunasoft_doc() -> dict[str, Any]:
    doc: dict[str, Any] = jsonutil.loads((SAMPLES / "lunasoft" / "sample_order.json").read_text())
    doc.update(gift_cert_id="502", gift_cert_code="XMAS", gift_cert_applied="5.00")
    return doc


def lunasoft_order() -> ob.Order:
    """A cart order, with what the cart has no field for (a parent order, attributes) added."""
    order = Cart.to_canonical(_lunasoft_doc())
    line = attrs.evolve(
        order.lines[0], attributes=(ob.AttributeSelection(attribute_id="41", option_ids=("9",)),)
    )
    return order.evolve(parent_order_ref="54000", lines=(line, *order.lines[1:]))


def id_values(doc: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """``(path, value)`` of every id a WebinOne document holds: keys ending in ``Id`` or ``Ids``.

    ``TransactionId`` is a payment gateway's id, not the platform's, and is left out.
    """
    if isinstance(doc, dict):
        for key, value in doc.items():
            here = f"{path}.{key}" if path else key
            if (key.endswith(("Id", "Ids"))) and key != "TransactionId":
                yield here, value
            else:
                yield from id_values(value, here)
    elif isinstance(doc, list):
        for i, item in enumerate(doc):
            yield from id_values(item, f"{path}[{i}]")


def written(values: Iterator[tuple[str, Any]]) -> dict[str, Any]:
    return {path: value for path, value in values if value not in (None, [])}


@pytest.mark.parametrize("backend", [WebinOneV2, WebinOneV1], ids=["v2", "v1"])
def test_a_lunasoft_order_becomes_a_webinone_document_without_lunasoft_ids(
    backend: type[ob.Backend],
) -> None:
    doc = backend.from_canonical(lunasoft_order())
    assert written(id_values(doc)) == {}, "no id of the cart is written, as an integer or as text"
    assert doc["MemberId"] is None and doc["Member"]["Id"] is None
    assert doc["Member"]["Email"] == "email@test.com"  # what links a member without the cart's id
    assert doc["OrderLines"][0]["ProductId"] is None and doc["OrderLines"][0]["Attributes"] == []
    assert doc["OrderLines"][0]["ProductName"] == "Test Product"
    assert doc["MainOrderId"] is None
    assert doc["InvoiceNumber"] == 54123  # the order's number, not a reference


def test_v2_losses_name_each_foreign_id_and_its_id_space() -> None:
    order = lunasoft_order()
    losses = {loss.field: loss.reason for loss in WebinOneV2.losses(order)}
    for field in (
        "customer.remote_id",
        "parent_order_ref",
        "lines[].product_ref",
        "lines[].attributes",
        "gift_vouchers[].remote_id",
    ):
        assert losses.get(field) == FOREIGN, field
    v1 = {loss.field: loss.reason for loss in WebinOneV1.losses(order)}
    assert v1["customer.remote_id"] == FOREIGN and v1["parent_order_ref"] == FOREIGN
    assert v1["lines"] == "the v1 API updates order fields only"  # lost anyway, said once


def test_ids_of_one_site_lineage_are_written(v1_doc: dict[str, Any]) -> None:
    order = WebinOneV1.to_canonical(v1_doc)  # v1 and v2 share the webinone id space
    doc = WebinOneV2.from_canonical(order)
    assert doc["MemberId"] == 28049 and doc["StatusId"] == 13176
    assert not [loss for loss in WebinOneV2.losses(order) if loss.reason.endswith("not written")]
    no_source = order.evolve(source=None)  # made for the target: its ids are the target's
    assert WebinOneV2.from_canonical(no_source)["MemberId"] == 28049


def test_a_webinone_order_becomes_a_cart_document_without_webinone_ids(v1_doc: dict[str, Any]) -> None:
    order = WebinOneV1.to_canonical(v1_doc)
    order = order.evolve(gift_vouchers=(ob.GiftVoucher(code="G", remote_id="5"),))
    doc = Cart.from_canonical(order)
    assert doc["id"] is None and doc["user_id"] is None and doc["gift_cert_id"] is None
    assert all(line["id"] is None and line["product_id"] is None for line in doc["line_items"])
    reasons = {loss.field: loss.reason for loss in Cart.losses(order)}
    foreign = "a webinone id, not a lunasoft-cart id: not written"
    assert reasons["customer.remote_id"] == foreign and reasons["gift_vouchers[].remote_id"] == foreign


def test_a_cart_order_keeps_its_ids_in_the_cart() -> None:
    doc = _lunasoft_doc()
    assert Cart.from_canonical(Cart.to_canonical(copy.deepcopy(doc))) == doc
    assert not [loss for loss in Cart.losses(Cart.to_canonical(doc)) if loss.reason.endswith("not written")]


def test_convert_from_lunasoft_to_v2_writes_no_lunasoft_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    source = tmp_path / "cart.json"
    source.write_text(json.dumps(_lunasoft_doc()), encoding="utf-8")
    assert main(["convert", "--from", "lunasoft-cart", "--to", "webinone-v2", str(source)]) == 0
    doc = jsonutil.loads(capsys.readouterr().out)
    assert written(id_values(doc)) == {}
    ids = {str(value) for _, value in id_values(doc)}
    assert not ids & LUNASOFT_IDS
    said = [r.getMessage() for r in caplog.records]
    assert any("customer.remote_id" in m and FOREIGN in m for m in said), said
    assert any("lines[].product_ref" in m and FOREIGN in m for m in said), said


@pytest.fixture
def v1_doc() -> dict[str, Any]:
    """The v1 page sample (a WebinOne order: member 28049, status 13176)."""
    loaded: dict[str, Any] = jsonutil.loads((SAMPLES / "webinone" / "data" / "v1_order.json").read_text())
    return loaded
