"""The read path end to end: bad documents, source faults and lying pagers never abort, loop or skip."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import responses

import orderbridge as ob
from orderbridge import jsonutil
from orderbridge.sandbox import Faults, Request, Response, SimServer, available_simulators

from .sites import TOKEN_PATH, Sites

pytestmark = pytest.mark.slow

V1_LIST = "/api/v1/orders"


class LyingSite(available_simulators()["webinone"]):  # type: ignore[misc]
    """A WebinOne site whose v1 list misbehaves as a test asks: poisoned items, lies, a hook."""

    poison: frozenset[int] = frozenset()
    ignore_offset = False
    claimed_total: int | None = None
    on_list: Callable[[int], None] | None = None

    def handle(self, request: Request) -> Response:
        if request.method != "GET" or request.path != V1_LIST:
            return super().handle(request)  # type: ignore[no-any-return]
        query = dict(request.query)
        if self.on_list is not None:
            self.on_list(int(query.get("offset", 0)))
        if self.ignore_offset:
            request = dataclasses.replace(request, query={**query, "offset": "0"})
        answer = super().handle(request)
        page = jsonutil.loads(answer.body)
        for item in page["Items"]:
            if item["Id"] in self.poison:
                item["OrderLines"][0]["UnitPrice"] = "__nan__"
        if self.claimed_total is not None:
            page["TotalItemsCount"] = self.claimed_total
        body = jsonutil.dumps(page).encode().replace(b'"__nan__"', b"NaN")
        return Response(answer.status, body, dict(answer.headers))


class LyingSites(Sites):
    def __init__(self, count: int) -> None:
        self.old = LyingSite(client_id="old", client_secret="old-secret", id_start=28000)
        self.new = available_simulators()["webinone"](
            client_id="new", client_secret="new-secret", id_start=1000, soft_delete=True
        )
        self.old.seed(count, seed=6)
        self.count = count
        self.old_server = SimServer(self.old).start()
        self.new_server = SimServer(self.new).start()


@pytest.fixture
def sites() -> Iterator[LyingSites]:
    s = LyingSites(300)
    yield s
    s.close()


def _migrate(sites: Sites, tmp_path: Path) -> ob.MigrationReport:
    return ob.migrate(
        sites.source(sleep=lambda s: None),
        sites.target(sleep=lambda s: None),
        state=tmp_path / "state.sqlite",
        sleep=lambda s: None,
    )


def _target_invoices(sites: Sites) -> list[int]:
    return [sites.new.order_doc(i)["InvoiceNumber"] for i in sites.new.live_order_ids()]


def _source_invoices(sites: Sites) -> list[int]:
    return [sites.old.order_doc(i, "v1")["InvoiceNumber"] for i in sites.old.order_ids()]


def test_one_bad_order_in_every_page_the_others_are_written(sites: LyingSites, tmp_path: Path) -> None:
    ids = sites.old.order_ids()
    sites.old.poison = frozenset({ids[50], ids[150], ids[250]})
    report = _migrate(sites, tmp_path)
    assert (report.read, report.written, report.failed) == (300, 297, 3), report.summary()
    assert {f.source_id for f in report.failures} == {str(i) for i in sites.old.poison}
    assert {f.field for f in report.failures} == {"OrderLines[0].UnitPrice"}
    assert all(f.kind == "invalid-order" for f in report.failures)
    assert sites.new.order_count() == 297 and len(set(_target_invoices(sites))) == 297


def test_five_percent_500s_on_source_gets_complete_in_one_pass(sites: LyingSites, tmp_path: Path) -> None:
    sites.old_server.faults = Faults(
        error_rate=0.05, only_methods=frozenset({"GET"}), seed=4, exempt_paths=frozenset({TOKEN_PATH})
    )
    report = _migrate(sites, tmp_path)
    assert report.ok and (report.read, report.written) == (300, 300), report.summary()
    assert sorted(_target_invoices(sites)) == sorted(_source_invoices(sites))


def test_a_source_that_ignores_offset_stops_the_run_with_the_reason(
    sites: LyingSites, tmp_path: Path
) -> None:
    sites.old.ignore_offset = True
    started = time.monotonic()
    report = _migrate(sites, tmp_path)
    assert time.monotonic() - started < 60  # bounded, not an endless loop
    assert not report.ok and report.stopped_reason is not None
    assert "ignore Offset" in report.stopped_reason, report.summary()
    assert report.written == report.read == 100  # the first page, each once; nothing silently skipped
    assert sites.new.order_count() == 100 and len(set(_target_invoices(sites))) == 100
    assert report.resume_hint and "stopped early" in report.summary()


def test_a_total_of_a_billion_ends_and_is_reported(sites: LyingSites, tmp_path: Path) -> None:
    sites.old.claimed_total = 10**9
    report = _migrate(sites, tmp_path)
    assert report.written == 300 and report.failed == 0, report.summary()
    assert report.source_claimed == 10**9
    assert any("claimed 1000000000" in note for note in report.source_notes), report.source_notes
    assert "claimed 1000000000" in report.summary()


def test_orders_deleted_from_the_source_mid_run_shift_nothing_out(sites: LyingSites, tmp_path: Path) -> None:
    ids = sites.old.order_ids()
    gone = ids[10:15]
    deleted: list[int] = []

    def delete_behind(offset: int) -> None:
        if offset >= 150 and not deleted:  # the walk is past them: the offsets move left by 5
            for ident in gone:
                sites.old.remove_order(ident)
            deleted.extend(gone)

    sites.old.on_list = delete_behind
    report = _migrate(sites, tmp_path)
    assert deleted, "the deletions happened mid-run"
    remaining = set(ids) - set(gone)
    assert report.failed == 0, report.summary()
    # Every order still in the source was written, each once; the five deleted ones were read before.
    assert report.written == 300 and report.read == 300
    copies = _target_invoices(sites)
    assert len(copies) == len(set(copies)) == 300
    assert {sites.old.order_doc(i, "v1")["InvoiceNumber"] for i in remaining} <= set(copies)
    assert report.source_notes, "the re-read after the shift is reported"


def test_lunasoft_next_page_that_never_ends_is_bounded() -> None:
    base = "https://shop.example.com/api/v1/shopping_cart"
    page = {"orders": [{"id": "2", "line_items": []}, {"id": "1", "line_items": []}], "next_page": 2}
    calls = 0

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        nonlocal calls
        calls += 1
        number = int(dict(p.split("=") for p in request.url.split("?")[1].split("&"))["page"])
        return 200, {}, jsonutil.dumps({**page, "next_page": number + 1})

    with responses.RequestsMock() as rsps:
        rsps.add_callback("GET", base + "/orders", callback=answer, content_type="application/json")
        backend = ob.connect("lunasoft-cart", base_url=base, api_key="k", fetch_statuses=False)
        with pytest.raises(ob.PagingError, match="next_page keeps coming"):
            list(backend.iter_records(sort="-id"))
    assert calls <= 4


def test_the_command_line_writes_the_report_and_one_line_with_cause_and_resume(
    sites: LyingSites, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from orderbridge.cli import main

    sites.old.ignore_offset = True
    config = sites.write_config(tmp_path / "run.toml", workers=2)
    for name, value in sites.env().items():
        monkeypatch.setenv(name, value)
    assert main(["migrate", "--config", str(config)]) == 1
    captured = capsys.readouterr()
    last = captured.err.strip().splitlines()[-1]
    assert last.startswith("orderbridge: stopped: the source could not be read any further")
    assert "ignore Offset" in last and f"orderbridge migrate --config {config}" in last
    assert "Traceback" not in captured.err
    report = jsonutil.loads((tmp_path / "report.json").read_text())
    assert report["counts"]["written"] == 100 and report["stopped_reason"]
