"""Named sandbox sites, the run.toml they get, and the demo's run.toml."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

import orderbridge as ob
from orderbridge.cli import main
from orderbridge.migration.config import connect_endpoint, load_config
from orderbridge.sandbox import SiteSpec, available_simulators, serve, serve_sites
from orderbridge.sandbox.runconfig import MARKER, export_lines, render_run_config, write_run_config


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("old=webinone:500", SiteSpec("old", "webinone", 500)),
        ("new=webinone:0", SiteSpec("new", "webinone", 0)),
        ("cart=lunasoft-cart", SiteSpec("cart", "lunasoft-cart", None)),
    ],
)
def test_a_site_is_name_simulator_and_seed_orders(text: str, expected: SiteSpec) -> None:
    assert SiteSpec.parse(text) == expected


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--site", "webinone:5"], "expected NAME=SIMULATOR:SEED_ORDERS"),
        (["--site", "old=webinone:many"], "SEED_ORDERS must be a whole number"),
        (["--site", "9=webinone"], "a site name is a letter"),
    ],
)
def test_a_malformed_site_is_a_usage_error(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["sandbox", "serve", *argv])
    assert exited.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["webinone", "webinone"], "simulator 'webinone' is named twice, and one name is one site"),
        (["--site", "a=webinone:1", "--site", "a=webinone:0"], "site name 'a' is given twice"),
        (["--site", "a=webinone:1", "webinone"], "name sites with --site only"),
        (["--site", "a=nosuch:1"], "no simulator named 'nosuch'"),
    ],
)
def test_a_repeated_or_mixed_name_is_an_error_not_one_silent_site(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sandbox", "serve", *argv]) == 2  # a usage error
    assert message in capsys.readouterr().err


def test_sites_of_one_simulator_are_separate_stores_with_their_own_ids_and_credentials() -> None:
    sites = [SiteSpec("old", "webinone", 3), SiteSpec("new", "webinone", 0)]
    with serve_sites(sites, simulators=available_simulators()) as servers:
        old, new = servers["old"].simulator, servers["new"].simulator
        assert list(servers) == ["old", "new"] and servers["old"].url != servers["new"].url
        assert (old.order_count(), new.order_count()) == (3, 0)  # type: ignore[attr-defined]
        assert old.credentials() != new.credentials()
        assert old.credentials()["client_id"] == "old-app"
        old_ids = {c for t in old.catalog_tables().values() for c in t.values()}  # type: ignore[attr-defined]
        new_ids = {c for t in new.catalog_tables().values() for c in t.values()}  # type: ignore[attr-defined]
        assert not old_ids & new_ids  # no id of one site is one of the other's by chance
        assert set(servers["new"].catalogs()) == set(ob.REFERENCE_KINDS)


def test_serve_refuses_a_simulator_named_twice() -> None:
    with pytest.raises(ob.ConfigurationError, match="named twice"), serve(["webinone", "webinone"]):
        pass  # pragma: no cover


def test_run_config_holds_no_secret_and_connects_with_the_exported_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sites = [SiteSpec("old", "webinone", 2), SiteSpec("new", "webinone", 0)]
    with serve_sites(sites, simulators=available_simulators()) as servers:
        old, new = servers["old"], servers["new"]
        source = old.simulator.endpoint(old.url, "source")
        target = new.simulator.endpoint(new.url, "target")
        assert source is not None and target is not None
        assert (source["backend"], target["backend"]) == ("webinone-v1", "webinone-v2")
        text, exports = render_run_config(
            source, target, sites=("old", "new"), run={"state": "s.sqlite"}, references={"identity": False}
        )
        path = tmp_path / "run.toml"
        write_run_config(path, text)
        secrets = [old.simulator.credentials()["client_secret"], new.simulator.credentials()["client_secret"]]
        assert set(exports) == {"OLD_CLIENT_SECRET", "NEW_CLIENT_SECRET"}
        assert all(secret not in path.read_text() for secret in secrets)
        assert export_lines(exports)[0] == f"export OLD_CLIENT_SECRET={secrets[0]}"
        for name, value in exports.items():
            monkeypatch.setenv(name, value)
        config = load_config(path)
        assert config.identity is False
        client = connect_endpoint(config.target, config=config, section="target")
        assert client.count_orders() == 0
        client.close()


def test_a_configuration_orderbridge_did_not_write_is_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text("[source]\n# mine\n")
    with pytest.raises(ob.ConfigurationError, match="was not written by orderbridge: not replaced"):
        write_run_config(path, f"{MARKER}\n")
    assert path.read_text() == "[source]\n# mine\n"
    path.write_text(f"{MARKER} sandbox serve\n")
    write_run_config(path, f"{MARKER} again\n")
    assert path.read_text() == f"{MARKER} again\n"


def test_a_lunasoft_site_is_a_source_only() -> None:
    cart = available_simulators()["lunasoft-cart"].for_site("cart", 0)
    assert cart.endpoint("http://127.0.0.1:1", "target") is None
    section = cart.endpoint("http://127.0.0.1:1", "source")
    assert section is not None and section["backend"] == "lunasoft-cart" and section["api_key"]


def test_the_demo_leaves_its_run_toml_beside_its_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--orders", "5", "--workers", "2", "--workdir", str(tmp_path)]) == 0
    path = tmp_path / "run.toml"
    text = path.read_text()
    assert (tmp_path / "report.json").exists() and text.startswith(MARKER)
    assert 'client_secret_env = "OLD_CLIENT_SECRET"' in text and "old-site-secret" not in text
    assert "[references.status]" in text
    assert f"configuration: {path}" in capsys.readouterr().out
    assert not stat.S_IMODE(path.stat().st_mode) & 0o002  # an ordinary file: it holds no secret
