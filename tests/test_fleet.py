"""The fleet without a cluster: its configuration, errors naming site and key, the request gate,
the report and its page, the simulated fleet's file; ``import orderbridge`` never imports Dask."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import orderbridge as ob
from orderbridge import transport
from orderbridge.cli import main
from orderbridge.fleet.config import HostLimit, load_fleet
from orderbridge.fleet.html import render_fleet_html
from orderbridge.fleet.report import FleetReport
from orderbridge.sandbox.fleet import serve_fleet
from orderbridge.tomltext import toml_value

SITE = """
[sites.{name}.source]
backend = "jsonl"
path = "{name}-in.jsonl"

[sites.{name}.target]
backend = "jsonl"
path = "{name}-out.jsonl"
"""


def _write(tmp_path: Path, head: str = "", *names: str, tail: str = "") -> Path:
    path = tmp_path / "fleet.toml"
    sites = "".join(SITE.format(name=n) for n in (names or ("shop-a", "shop-b")))
    path.write_text(head + sites + tail, encoding="utf-8")
    return path


def test_sites_inherit_the_defaults_and_get_their_own_state(tmp_path: Path) -> None:
    head = '[defaults.run]\nworkers = 3\nreport = "reports/{site}.json"\n\n'
    head += '[defaults.references.status]\nPaid = "7"\n'
    tail = '[sites.shop-b.run]\nworkers = 5\nstate = "postgresql://db.example/fleet?migration={site}"\n'
    tail += '[sites.shop-b.references.status]\nOpen = "8"\n'
    fleet = load_fleet(_write(tmp_path, head, tail=tail))
    a, b = fleet.sites["shop-a"].config, fleet.sites["shop-b"].config
    assert a.workers == 3 and b.workers == 5
    assert a.state == tmp_path / "shop-a" / "state.sqlite"
    assert a.report == tmp_path / "reports" / "shop-a.json"
    assert "migration=shop-b" in fleet.sites["shop-b"].state  # passed on as written, {site} filled in
    assert a.reference_tables == {"status": {"Paid": "7"}}
    assert b.reference_tables == {"status": {"Paid": "7", "Open": "8"}}
    assert a.source["path"] == str(tmp_path / "shop-a-in.jsonl")
    assert fleet.report == tmp_path / "fleet-report.json"
    assert fleet.options.workers == 2 and fleet.options.scheduler is None


@pytest.mark.parametrize(
    ("head", "tail", "message"),
    [
        ("[fleets]\n", "", "[fleets]: unknown section; did you mean [fleet]?"),
        ("[fleet]\nworker = 2\n", "", "[fleet] worker: unknown option; did you mean workers?"),
        ("[fleet]\nworkers = 0\n", "", "[fleet] workers: 0 is below 1"),
        ("", '[sites.shop-b.run]\nworkers = "four"\n', "[sites.shop-b.run] workers:"),
        (
            "",
            '[sites.shop-b.run]\nstat = "x"\n',
            "[sites.shop-b.run] stat: unknown option; did you mean state?",
        ),
        (
            "",
            "[sites.shop-b.sauce]\nx = 1\n",
            "[sites.shop-b] sauce: unknown section; did you mean [source]?",
        ),
        ('[defaults.run]\nmode = "sometimes"\n', "", "[sites.shop-a.run] mode:"),
        ('[hosts."api.example"]\nrate = 0\n', "", '[hosts."api.example"] rate: 0.0 is not above 0'),
        ('[hosts."api.example"]\n', "", '[hosts."api.example"]: names no limit'),
        ('[hosts."api.example"]\nburst = 3\n', "", '[hosts."api.example"] burst: unknown option'),
        ("", SITE.format(name="shop-c") + "colour = 1\n", "[sites.shop-c.target] colour: unknown option"),
    ],
)
def test_configuration_errors_exit_2_naming_site_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], head: str, tail: str, message: str
) -> None:
    path = _write(tmp_path, head, tail=tail)
    assert main(["fleet", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert err.count("\n") == 1  # one line, no traceback


def test_a_fleet_without_sites_and_a_bad_site_name_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text("[fleet]\nworkers = 1\n")
    with pytest.raises(ob.ConfigurationError, match=r"\[sites\]: no site"):
        load_fleet(path)
    path.write_text(SITE.format(name="9lives"))
    with pytest.raises(ob.ConfigurationError, match=r"\[sites.9lives\]: a site name is a letter"):
        load_fleet(path)


def test_an_unset_secret_variable_is_a_configuration_error_naming_the_site(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve_fleet(2, orders=0) as fleet:
        path = tmp_path / "fleet.toml"
        fleet.write(path)
        assert main(["fleet", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "[sites.site-01.source] client_secret_env: environment variable 'SITE_01_OLD_CLIENT_SECRET'" in err


def test_retry_and_status_name_an_unknown_site(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path)
    assert main(["fleet", "retry", "shop-c", "--config", str(path)]) == 2
    assert "no site named 'shop-c'" in capsys.readouterr().err
    assert main(["fleet", "status"]) == 2
    assert "fleet needs --config FILE" in capsys.readouterr().err


def test_status_of_a_fleet_that_never_ran(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path)
    assert main(["fleet", "status", "--config", str(path), "--json"]) == 1  # no site is ok yet
    rows = json.loads(capsys.readouterr().out)
    assert [r["site"] for r in rows] == ["shop-a", "shop-b"]
    assert rows[0]["last_status"] == "not run" and rows[0]["state_counts"] is None
    assert main(["fleet", "status", "--config", str(path)]) == 1
    assert "shop-a: no state yet" in capsys.readouterr().out


def test_a_state_url_is_shown_without_its_password(tmp_path: Path) -> None:
    from orderbridge.fleet.status import shown_state

    assert "s3cret" not in shown_state("postgresql://fleet:s3cret@db.example/fleet?migration=a")


@pytest.mark.parametrize(
    ("key", "netloc", "matches"),
    [
        ("api.example", "api.example", True),
        ("api.example", "api.example:8443", True),
        ("api.example:8443", "api.example:8443", True),
        ("api.example:8443", "api.example:443", False),
        ("api.example", "api.example.org", False),
        ("::1", "[::1]:8080", False),
        ("[::1]", "[::1]:8080", True),
    ],
)
def test_a_host_limit_names_a_host_or_a_host_and_port(key: str, netloc: str, matches: bool) -> None:
    assert HostLimit(key, rate=1.0).matches(netloc) is matches


@contextmanager
def _gate(seen: list[str]) -> Iterator[None]:
    def gate(scheme: str, netloc: str) -> Iterator[None]:
        seen.append(f"enter {scheme}://{netloc}")
        yield
        seen.append("leave")

    installed = contextmanager(gate)
    transport.add_request_gate(installed)
    try:
        yield
    finally:
        transport.remove_request_gate(installed)


def test_every_attempt_passes_through_the_installed_gates(mock: object) -> None:
    import responses

    rsps: responses.RequestsMock = mock  # type: ignore[assignment]
    rsps.get("https://api.example/x", status=503)
    rsps.get("https://api.example/x", json={"ok": True})
    seen: list[str] = []
    with _gate(seen):
        t = ob.Transport("https://api.example", sleep=lambda s: None)
        assert t.get("/x") == {"ok": True}
    assert seen == ["enter https://api.example", "leave"] * 2  # the retry too
    assert transport._gates == ()


def test_the_fleet_page_escapes_what_it_shows() -> None:
    report = FleetReport(
        fleet="<fleet>",
        cluster="LocalCluster",
        sites=[
            {"site": "a<b>", "status": "error", "error": "<script>alert(1)</script>", "counts": None},
            {"site": "ok-site", "status": "ok", "counts": {"read": 3, "written": 3}, "attempts": 1},
        ],
    )
    page = render_fleet_html(report.to_dict())
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "a&lt;b&gt;" in page
    assert '<span data-key="[&quot;totals&quot;, &quot;written&quot;]">3</span>' in page
    assert "script-src" not in page  # no script at all


def test_a_retry_replaces_its_sites_and_keeps_the_others() -> None:
    first = FleetReport("f", "c", sites=[{"site": "a", "status": "ok"}, {"site": "b", "status": "error"}])
    retry = FleetReport("f", "c", sites=[{"site": "b", "status": "ok"}])
    merged = first.merge(retry)
    assert merged.sites == [{"site": "a", "status": "ok"}, {"site": "b", "status": "ok"}]
    assert merged.ok and not first.ok
    assert "b: " not in merged.summary()


def test_the_simulated_fleet_file_reads_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with serve_fleet(3, orders=2, latency=0.0) as fleet:
        exports = fleet.write(tmp_path / "fleet.toml", fleet={"workers": 3, "lock_wait": 2.5})
        text = (tmp_path / "fleet.toml").read_text()
        assert not any(secret in text for secret in exports.values())
        for key, value in exports.items():
            monkeypatch.setenv(key, value)
        config = load_fleet(tmp_path / "fleet.toml")
        assert list(config.sites) == ["site-01", "site-02", "site-03"]
        assert config.options.workers == 3 and config.options.lock_wait == 2.5
        from orderbridge.fleet.config import check_endpoints

        check_endpoints(config)
        assert len(fleet.source_ids("site-02")) == 2 and fleet.target_ids("site-02") == []


def test_toml_value_writes_numbers() -> None:
    assert toml_value(0.05) == "0.05" and toml_value(3) == "3"
    with pytest.raises(ValueError):
        toml_value(float("nan"))


def test_import_orderbridge_never_imports_dask() -> None:
    code = (
        "import sys, orderbridge, orderbridge.fleet, orderbridge.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
