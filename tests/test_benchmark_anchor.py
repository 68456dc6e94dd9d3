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

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import anchor
from run import Sites  # the benchmark's own two sites: an old one seeded, a new one empty

_ID = re.compile(r"/\d+(?=/|$)")


def _info(sites: Sites) -> dict[str, Any]:
    """What ``anchor.replay`` takes (as ``benchmarks/sites.py`` prints it)."""
    return {
        "old": {"url": sites.old_server.url, **sites.old.credentials()},
        "new": {"url": sites.new_server.url, **sites.new.credentials()},
    }


def _requests_to_new(sites: Sites) -> Counter[tuple[str, str]]:
    """The new site's requests by method and path (order ids made alike), the token left out."""
    return Counter(
        (e.method, _ID.sub("/ID", e.path)) for e in sites.new.requests_log if e.path != anchor.TOKEN_PATH
    )


def test_the_plain_script_replays_every_request_orderbridge_sent_to_the_target(tmp_path: Path) -> None:
    sites = Sites(30)
    try:
        source, target = sites.source(), sites.target()
        recorder = anchor.Recorder(source, target)
        report = ob.migrate(source, target, state=tmp_path / "s.sqlite", concurrency=4)
        assert report.written == 30
        sent_by_orderbridge = _requests_to_new(sites)
    finally:
        sites.close()

    fresh = Sites(30)
    try:
        anchor.replay(recorder.recording, _info(fresh), workers=4)
        sent_by_the_script = _requests_to_new(fresh)
        assert fresh.new.order_count() == 30
    finally:
        fresh.close()

    assert sent_by_the_script == sent_by_orderbridge
    # The reads before the first write are in it: the preflight's catalog lists and the ledger.
    assert len(recorder.recording.target_reads) >= 2
    assert any(step.path != anchor.ORDERS_PATH for step in recorder.recording.target_reads)
