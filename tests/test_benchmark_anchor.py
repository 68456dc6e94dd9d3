"""The concurrency benchmark's anchor (``benchmarks/anchor.py``) sends exactly the requests orderbridge sent.

The benchmark's verdict compares orderbridge with that plain ``requests``
script; a script that skipped some of orderbridge's requests (the preflight's
catalog lists, the ledger's pages) would be an anchor too easy to beat or too
hard to match. So the two are held to the same requests, counted by the
simulator that received them.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import orderbridge as ob
from orderbridge.sandbox import SimServer, available_simulators

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import anchor

TOKEN_PATH = "/api/v1/oauth/token"
_ID = re.compile(r"/\d+(?=/|$)")


class _Sites:
    """An old site seeded with ``count`` orders and an empty new one, each on its own server."""

    def __init__(self, count: int) -> None:
        sim = available_simulators()["webinone"]
        self.old = sim(client_id="old", client_secret="old-secret", id_start=28000)
        self.new = sim(client_id="new", client_secret="new-secret", id_start=1000)
        self.old.seed(count, seed=2)
        self.old_server = SimServer(self.old).start()
        self.new_server = SimServer(self.new).start()

    def info(self) -> dict[str, Any]:
        """What ``anchor.replay`` takes (as ``benchmarks/sites.py`` prints it)."""
        return {
            "old": {"url": self.old_server.url, **self.old.credentials()},
            "new": {"url": self.new_server.url, **self.new.credentials()},
        }

    def requests_to_new(self) -> Counter[tuple[str, str]]:
        """The new site's requests by method and path (order ids made alike), the token left out."""
        return Counter(
            (e.method, _ID.sub("/ID", e.path)) for e in self.new.requests_log if e.path != TOKEN_PATH
        )

    def close(self) -> None:
        self.old_server.stop()
        self.new_server.stop()


def test_the_plain_script_replays_every_request_orderbridge_sent_to_the_target(tmp_path: Path) -> None:
    sites = _Sites(30)
    try:
        source = ob.connect("webinone-v1", base_url=sites.old_server.url, **sites.old.credentials())
        tables = {k: {str(a): str(b) for a, b in t.items()} for k, t in sites.new.catalog_tables().items()}
        target = ob.connect(
            "webinone-v2",
            base_url=sites.new_server.url,
            resolver=ob.ReferenceResolver(tables),
            **sites.new.credentials(),
        )
        recorder = anchor.Recorder(source, target)
        report = ob.migrate(source, target, state=tmp_path / "s.sqlite", concurrency=4)
        assert report.written == 30
        sent_by_orderbridge = sites.requests_to_new()
    finally:
        sites.close()

    fresh = _Sites(30)
    try:
        anchor.replay(recorder.recording, fresh.info(), workers=4)
        sent_by_the_script = fresh.requests_to_new()
        assert fresh.new.order_count() == 30
    finally:
        fresh.close()

    assert sent_by_the_script == sent_by_orderbridge
    # The reads before the first write are in it: the preflight's catalog lists and the ledger.
    assert len(recorder.recording.target_reads) >= 2
    assert any(step.path != anchor.ORDERS_PATH for step in recorder.recording.target_reads)
