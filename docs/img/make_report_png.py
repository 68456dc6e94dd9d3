"""Make docs/img/report.png: a demo-sized run against a simulated site that answers some 429s,
verified, its HTML report photographed by headless Chromium.

    PYTHONPATH=.:plugins python docs/img/make_report_png.py

Needs the Debian packages chromium (and the orderbridge checkout); writes nothing else in the
checkout (the run's files go to a temporary folder).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

import orderbridge as ob
from orderbridge.migration import migrate
from orderbridge.migration.report_files import attach_verify, write_reports
from orderbridge.migration.verify import verify
from orderbridge.sandbox import Faults, SimServer, available_simulators

OUT = Path(__file__).resolve().parent / "report.png"
TOKEN_PATH = "/api/v1/oauth/token"  # noqa: S105 - a path, not a secret


def main() -> None:
    """Run, verify, render and photograph the report."""
    simulator = available_simulators()["webinone"]
    old = simulator(client_id="old-site", client_secret="old-site-secret", id_start=28000)  # noqa: S106
    new = simulator(client_id="new-site", client_secret="new-site-secret", id_start=1000)  # noqa: S106
    old.seed(600, seed=0)
    logging.disable(logging.WARNING)  # the retries are the point here, not their log lines
    folder = Path(tempfile.mkdtemp(prefix="orderbridge-shot-"))
    faults = Faults(rate_429=0.02, latency=0.005, retry_after=0, seed=1, exempt_paths=frozenset({TOKEN_PATH}))
    with SimServer(old) as old_server, SimServer(new, faults=faults) as new_server:
        tables = {k: {str(a): str(b) for a, b in t.items()} for k, t in new.catalog_tables().items()}

        def source() -> ob.Backend:
            return ob.connect("webinone-v1", base_url=old_server.url, **old.credentials())

        def target() -> ob.Backend:
            return ob.connect(
                "webinone-v2",
                base_url=new_server.url,
                resolver=ob.ReferenceResolver(tables),
                **new.credentials(),
            )

        report = migrate(source(), target(), state=folder / "state.sqlite")
        write_reports(report, folder / "report.json")
        new_server.faults = Faults()
        attach_verify(folder / "report.json", verify(source(), target(), folder / "state.sqlite"))
    page = next(folder.glob("report-*.html"))
    chromium = shutil.which("chromium") or "chromium"
    profile = tempfile.mkdtemp(prefix="orderbridge-chromium-")
    subprocess.run(  # noqa: S603 - our own page, a fixed browser
        [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", "--hide-scrollbars", "--window-size=1100,1500",
            f"--screenshot={OUT}", page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    shutil.rmtree(profile, ignore_errors=True)
    print(f"{OUT} from {page}")


if __name__ == "__main__":
    main()
