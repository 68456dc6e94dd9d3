"""The Acme example migrates to webinone-v2 (both simulators on loopback): its fees, which
WebinOne cannot hold, are money losses in the report, and verify explains the totals by them."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from orderbridge_acme.simulator import AcmeSimulator

import orderbridge as ob
from orderbridge.sandbox import SimServer, available_simulators

pytestmark = pytest.mark.slow

ACME_KEY = "e2e-acme-key"
WRAP = Decimal("3.50")
"""The simulated shop's gift-wrap fee."""


def test_acme_to_v2_reports_its_fees_as_money_lost_and_verify_explains_each_total(tmp_path: Path) -> None:
    shop = AcmeSimulator(api_key=ACME_KEY)
    shop.seed(30, seed=7)
    new = available_simulators()["webinone"](client_id="new", client_secret="new-secret", id_start=1000)
    catalog = new.catalog_tables()["status"]
    statuses = {
        acme: str(catalog[name])
        for acme, name in (("pending", "Pending"), ("paid", "Processing"), ("shipped", "Shipped"),
                           ("cancelled", "Cancelled"))
    }  # fmt: skip
    with SimServer(shop) as shop_server, SimServer(new) as new_server:
        source = ob.connect("acme", base_url=shop_server.url, api_key=ACME_KEY, site_timezone="Europe/Paris")
        originals = list(source.iter_orders())
        with_fee = [o for o in originals if o.fees]
        refunded = [o for o in originals if o.refunds]
        assert with_fee and refunded, "the seed gives some orders a fee and some a refund"
        # Acme customers are no members of the new site: written without one ("omit").
        resolver = ob.ReferenceResolver({"status": statuses}, identity=False)
        target = ob.connect(
            "webinone-v2",
            base_url=new_server.url,
            resolver=resolver,
            on_unresolved="omit",
            **new.credentials(),
        )
        state = tmp_path / "state.sqlite"
        report = ob.migrate(source, target, state=state)
        assert (report.read, report.written, report.failed) == (30, 30, 0), report.summary()

        # The fee is a money loss with its amount; a refund is a loss too, but no money.
        assert report.money_lost["fees[]"] == {"EUR": WRAP * len(with_fee)}
        assert report.losses["fees[]"] == len(with_fee)
        assert report.losses["refunds"] == len(refunded) and "refunds" not in report.money_lost
        assert f"money lost: {WRAP * len(with_fee)} EUR" in report.summary()

        result = ob.verify(source, target, str(state), resolver=resolver)
        assert result.checked == 30
        # WebinOne computes its total from the lines: short of Acme's by exactly the fee.
        assert "total" not in {m.field for m in result.mismatches}, result.summary()
        assert sorted(m.amount for m in result.money_lost) == ["3.50"] * len(with_fee)
        for lost in result.money_lost:
            assert Decimal(lost.source_total) - WRAP == Decimal(lost.target_total)
            assert lost.fields == ["fees[]"]
