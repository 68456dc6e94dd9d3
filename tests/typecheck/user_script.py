"""A user's migration script, type-checked against the installed orderbridge."""

from decimal import Decimal

import orderbridge as ob


def total_of(order: ob.Order) -> Decimal:
    return order.total or Decimal(0)


backend: type[ob.Backend] = ob.get_backend("jsonl")
print(total_of(ob.Order(total=Decimal("1.00"))), backend.name)
