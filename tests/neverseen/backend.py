"""A backend for Parcelo, a platform orderbridge has never seen, written from docs/writing-a-backend.md.

Parcelo's order API (simulated in :mod:`tests.neverseen.simulator`):

* ``GET /orders?page=N&per_page=M``: a JSON list, oldest first; the headers
  ``X-Total-Count`` and ``X-Total-Pages`` say how many orders and pages there are;
* ``GET /orders/{id}``, ``DELETE /orders/{id}``;
* ``POST /orders`` (the order without its items), then ``POST /orders/{id}/items``
  once per line: a write of several requests.

A document: ``{"id": 17, "ref": "P-17", "state": "open", "currency": "EUR",
"created": "2024-03-05T14:22:10+01:00", "customer": {"id": 55, "email": ...},
"items": [{"sku": ..., "name": ..., "qty": 2, "unit_price": 12.50}],
"grand_total": 25.00}``: ids are integers, money JSON numbers (read as Decimal).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Final

import attrs

import orderbridge as ob

NAME: Final = "parcelo"
"""The registry name."""
PER_PAGE: Final = 25
"""Parcelo's default page size (the backend's default too)."""
ORDER_KEYS: Final = ("id", "ref", "state", "currency", "created", "customer", "items", "grand_total")
ITEM_KEYS: Final = ("sku", "name", "qty", "unit_price")


def _get(doc: Mapping[str, Any], key: str) -> Any:
    if key not in doc:
        raise ob.InvalidOrder("missing", field=key)
    return doc[key]


def _text(doc: Mapping[str, Any], key: str) -> str | None:
    value = _get(doc, key)
    if value is not None and not isinstance(value, str):
        raise ob.InvalidOrder(f"must be a string, got {type(value).__name__}", field=key)
    return value


def _id(doc: Mapping[str, Any], key: str) -> str | None:
    value = _get(doc, key)
    if value is None:
        return None
    if type(value) is not int:
        raise ob.InvalidOrder(f"must be an integer id, got {value!r}", field=key)
    return str(value)


def _money(doc: Mapping[str, Any], key: str) -> Decimal | None:
    value = _get(doc, key)
    if value is None:
        return None
    if type(value) is int:
        return Decimal(value)
    if type(value) is not Decimal:
        raise ob.InvalidOrder(f"must be a JSON number read exactly, got {type(value).__name__}", field=key)
    return value


def read_time(doc: Mapping[str, Any], key: str) -> datetime | None:
    """An ISO 8601 time with its offset; anything else is an InvalidOrder naming ``key``."""
    text = _text(doc, key)
    if text is None:
        return None
    try:
        return ob.parse_aware_datetime(text)
    except ValueError as exc:
        raise ob.InvalidOrder(str(exc), field=key) from None


def fee_money(order: ob.Order) -> Decimal | None:
    """The fees' money as it counts towards the total: amounts, and their tax when prices exclude it."""
    amounts = [fee.amount for fee in order.fees if fee.amount is not None]
    if order.prices_include_tax is not True:
        amounts += [fee.tax_amount for fee in order.fees if fee.tax_amount is not None]
    return sum(amounts, Decimal(0)) if amounts else None


def write_money(value: Decimal | None) -> Decimal | int | None:
    """Money as Parcelo's JSON numbers: a whole Decimal of exponent 0 stays as read."""
    return value


@attrs.frozen(kw_only=True)
class ParceloOptions:
    """The options of ``parcelo``."""

    base_url: ob.HttpUrl = ob.option(doc="the Parcelo API's URL")
    api_key: str = ob.option(secret=True, doc="the API key")
    per_page: int = ob.option(PER_PAGE, doc="orders per list page")
    allow_http: bool = ob.option(False, doc="allow plain http to a host that is not loopback")
    max_retries: int = ob.option(2, doc="retries of a request that failed transiently")


class ParceloBackend(ob.Backend):
    """A Parcelo shop: list, get, create (order, then its items) and delete orders."""

    name: ClassVar[str] = NAME
    description: ClassVar[str] = "Parcelo order API (the conformance suite's never-seen platform)"
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {ob.Capability.READ, ob.Capability.CREATE, ob.Capability.DELETE}
    )
    natural_key_fields: ClassVar[tuple[str, ...]] = ("number",)
    Options = ParceloOptions
    options: ParceloOptions

    def __init__(self, options: ParceloOptions | None = None, /, **values: Any) -> None:
        """Connect with :attr:`Options`, or keyword options read strictly through it."""
        super().__init__(options, **values)
        o = self.options
        self.transport = ob.Transport(
            o.base_url,
            auth=ob.ApiKeyAuth(o.api_key, header="X-Parcelo-Key", prefix=""),
            allow_http=o.allow_http,
            max_retries=o.max_retries,
            sleep=lambda _: None,
        )

    # ------------------------------------------------------------ translation

    @classmethod
    def to_canonical(cls, doc: Mapping[str, Any]) -> ob.Order:
        """A Parcelo order document -> canonical. Pure; a bad value is an InvalidOrder naming it."""
        if not isinstance(doc, Mapping):
            raise ob.InvalidOrder("must be an object", field="order")
        label = str(doc.get("id", "?"))
        try:
            items = _get(doc, "items")
            if not isinstance(items, list):
                raise ob.InvalidOrder("must be a list", field="items")
            customer = _get(doc, "customer")
            state = _text(doc, "state")
            remote_id = _id(doc, "id")
            if remote_id is None:
                raise ob.InvalidOrder("must not be null", field="id")
            return ob.Order(
                source=ob.SourceRef(NAME, remote_id),
                number=_text(doc, "ref"),
                status=ob.OrderStatus(name=state) if state is not None else None,
                currency=_text(doc, "currency"),
                created_at=read_time(doc, "created"),
                total=_money(doc, "grand_total"),
                customer=cls._read_customer(customer),
                lines=[cls._read_item(item, i) for i, item in enumerate(items)],
            )
        except ob.InvalidOrder as exc:
            raise exc.within(order=label) from None

    @staticmethod
    def _read_customer(value: Any) -> ob.Customer | None:
        if value is None:
            return None
        try:
            if not isinstance(value, Mapping):
                raise ob.InvalidOrder("must be an object", field="")
            return ob.Customer(remote_id=_id(value, "id"), email=_text(value, "email"))
        except ob.InvalidOrder as exc:
            raise exc.within(prefix="customer") from None

    @staticmethod
    def _read_item(value: Any, index: int) -> ob.OrderLine:
        try:
            if not isinstance(value, Mapping):
                raise ob.InvalidOrder("must be an object", field="")
            qty = _get(value, "qty")
            if type(qty) is not int or qty < 0:
                raise ob.InvalidOrder(f"must be a whole number >= 0, got {qty!r}", field="qty")
            return ob.OrderLine(
                sku=_text(value, "sku"),
                product_name=_text(value, "name"),
                quantity=Decimal(qty),
                unit_price=_money(value, "unit_price"),
            )
        except ob.InvalidOrder as exc:
            raise exc.within(prefix=f"items[{index}]") from None

    @classmethod
    def from_canonical(cls, order: ob.Order) -> dict[str, Any]:
        """Canonical -> a Parcelo order document. Pure; another platform's ids are never written."""
        ours = ob.shares_ids(order, cls)
        source = order.source
        customer = order.customer
        return {
            "id": int(source.remote_id) if source is not None and source.backend == NAME else None,
            "ref": order.number,
            "state": order.status.name if order.status is not None else None,
            "currency": order.currency,
            "created": order.created_at.isoformat() if order.created_at is not None else None,
            "customer": None
            if customer is None
            else {
                "id": int(customer.remote_id) if ours and customer.remote_id is not None else None,
                "email": customer.email,
            },
            "items": [cls._write_item(line, i, order.label) for i, line in enumerate(order.lines)],
            "grand_total": write_money(order.total),
        }

    @staticmethod
    def _write_item(line: ob.OrderLine, index: int, label: str) -> dict[str, Any]:
        if line.quantity != line.quantity.to_integral_value():
            raise ob.InvalidOrder(
                "Parcelo holds whole quantities", field=f"lines[{index}].quantity", order=label
            )
        return {
            "sku": line.sku,
            "name": line.product_name,
            "qty": int(line.quantity),
            "unit_price": write_money(line.unit_price),
        }

    @classmethod
    def _losses(cls, order: ob.Order) -> Iterable[ob.Loss]:
        """What a Parcelo order cannot hold (the base adds other backends' extras)."""
        reason = "Parcelo orders have no such field"
        for name in ("name", "country", "status_history", "payment_state", "invoiced_at", "modified_at",
                     "amount_paid", "amount_pending", "is_paid", "is_fulfilled", "tracking_number",
                     "tracking_url", "transaction_id", "parent_order_ref", "billing_address",
                     "shipping_address", "payments", "notes", "customer_note", "custom_fields",
                     "prices_include_tax", "refunds", "metadata"):  # fmt: skip
            if getattr(order, name) not in (None, (), {}):
                yield ob.Loss(name, reason)  # a refund is no money loss: it is not part of the total
        if order.shipping is not None:
            yield ob.Loss("shipping_lines", reason, order.shipping.cost)
        if order.fees:
            yield ob.Loss("fees", reason, fee_money(order))
        for name, sign in (("discounts", -1), ("gift_vouchers", -1), ("taxes", 1)):
            parts = getattr(order, name)
            if parts:
                amounts = [p.amount for p in parts if p.amount is not None]
                yield ob.Loss(name, reason, sign * sum(amounts, Decimal(0)) if amounts else None)
        if order.status is not None and order.status.remote_id is not None:
            yield ob.Loss("status.remote_id", reason)
        if order.customer is not None:
            for name in ("first_name", "last_name", "phone", "is_guest"):
                if getattr(order.customer, name) is not None:
                    yield ob.Loss(f"customer.{name}", reason)
        for line in order.lines:
            for name in ("remote_id", "product_ref", "variant_ref", "description", "subtotal",
                         "discount_amount", "total_price", "tax_amount", "tax_rate", "is_download",
                         "file_name", "is_fulfilled"):  # fmt: skip
                if getattr(line, name) is not None:
                    yield ob.Loss(f"lines[].{name}", reason)
            for name in ("attributes", "metadata"):
                if getattr(line, name):
                    yield ob.Loss(f"lines[].{name}", reason)
        yield from ob.foreign_id_losses(order, cls, ("customer.remote_id",))

    # ------------------------------------------------------------ reading

    def _iter_documents(self, **filters: Any) -> Iterator[Any]:
        """Every order document, page by page (the headers say how many pages)."""
        pager = ob.PageNumberPaginator(self._page, key=lambda doc: doc.get("id"))
        self.paging_stats = pager.stats
        return iter(pager)

    def _page(self, page: int) -> tuple[Any, int | None, int | None]:
        per_page = self.options.per_page
        answer = self.transport.fetch("GET", "orders", params={"page": page, "per_page": per_page})
        return ob.pages_from_headers(
            answer, page, per_page=per_page, total_pages="X-Total-Pages", total="X-Total-Count"
        )

    def _get_document(self, remote_id: str) -> Any:
        return self.transport.get(f"orders/{remote_id}")

    def document_id(self, doc: Any) -> str | None:
        """The document's ``id``."""
        ident = doc.get("id") if isinstance(doc, Mapping) else None
        return str(ident) if type(ident) is int else None

    def _count_orders(self, **filters: Any) -> int | None:
        # One order per page is enough: the total is in the headers.
        answer = self.transport.fetch("GET", "orders", params={"page": 1, "per_page": 1})
        return answer.header_int("X-Total-Count")

    # ------------------------------------------------------------ writing

    def _create_order(
        self, order: ob.Order, *, journal: ob.WriteJournal | None = None, stamp: ob.Stamp | None = None
    ) -> ob.Order:
        body = self.from_canonical(order)
        items = body.pop("items")
        del body["id"]
        head = self.transport.post("orders", json=body, expected=(201,))
        order_id = str(head["id"])
        steps = ["order"]
        if journal is not None:
            journal.record("order", {"order_id": order_id})
        lines: list[str] = []
        for index, item in enumerate(self._items_to_write(items)):
            try:
                answer = self.transport.post(f"orders/{order_id}/items", json=item, expected=(201,))
            except ob.TransportError as exc:
                written = {"order_id": order_id, "lines": lines, "steps": steps}
                raise ob.PartialWrite(
                    f"order {order_id}: item {index} failed", written=written, cause=exc
                ) from exc
            lines.append(str(answer["index"]))
            steps.append(f"line:{index}")
            if journal is not None:
                journal.record("line", {"index": index, "order_id": order_id})
        return self.get_order(order_id)

    def _items_to_write(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return items

    def _delete_order(self, remote_id: str) -> None:
        self.transport.delete(f"orders/{remote_id}", expected=(204,))

    def close(self) -> None:
        """Close the transport."""
        self.transport.close()

    def __repr__(self) -> str:
        return f"<ParceloBackend {self.transport.base_url!r}>"


@ob.hookimpl
def orderbridge_register_backends(registry: ob.BackendRegistry) -> None:
    """Register ``parcelo``."""
    registry.add(ParceloBackend)
