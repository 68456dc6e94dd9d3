from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import attrs
import pytest

import orderbridge as ob
from orderbridge.cli import main
from orderbridge.migration.config import connect_endpoint, load_config

CONFIG = """
[source]
backend = "jsonl"
path = "source.jsonl"

[target]
backend = "jsonl"
path = "target.jsonl"

[run]
state = "state.sqlite"
report = "report.json"
workers = 2
since = 2022-01-05
limit = 3

[references]
on_unresolved = "omit"

[references.status]
"Paid" = 13176
"""


def _write(tmp_path: Path, text: str = CONFIG) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(text)
    return path


def test_config_is_parsed_with_paths_relative_to_the_file(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path))
    assert config.state == tmp_path / "state.sqlite" and config.report == tmp_path / "report.json"
    assert config.workers == 2 and config.on_unresolved == "omit"
    assert config.selection.since == datetime(2022, 1, 5, tzinfo=UTC) and config.selection.limit == 3
    assert config.reference_tables == {"status": {"Paid": "13176"}}
    assert load_config(_write(tmp_path), workers=8, mode="update").workers == 8


def test_secrets_come_from_the_environment_and_stay_out_of_repr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = CONFIG.replace(
        'backend = "jsonl"\npath = "source.jsonl"',
        'backend = "webinone-v1"\nbase_url = "https://old.example.com"\nclient_id = "id"\n'
        'client_secret_env = "OB_TEST_SECRET"',
    )
    config = load_config(_write(tmp_path, text))
    # Read when the endpoint is connected, so a command that needs only one end needs only its secret.
    with pytest.raises(ob.ConfigurationError, match=r"\[source\] client_secret_env: .*OB_TEST_SECRET"):
        connect_endpoint(config.source, section="source")
    monkeypatch.setenv("OB_TEST_SECRET", "canary-config-secret")
    backend = connect_endpoint(config.source, section="source")
    assert backend.options.client_secret == "canary-config-secret"
    for shown in (repr(config), repr(backend), repr(backend.options)):
        assert "canary-config-secret" not in shown


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (CONFIG + "\n[extra]\n", "unknown section"),
        (CONFIG.replace("workers = 2", "workers = 2\ncolour = 1"), "colour"),
        (CONFIG.replace('on_unresolved = "omit"', 'on_unresolved = "guess"'), "on_unresolved"),
        (CONFIG.replace("[references.status]", "[references.colour]"), "colour"),
        (CONFIG.replace("since = 2022-01-05", 'since = "yesterday"'), "since"),
        ("[source\n", "run.toml"),
    ],
)
def test_bad_configuration_names_the_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ob.ConfigurationError, match=message):
        load_config(_write(tmp_path, text))


def test_cli_migrate_dry_run_then_run_then_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = ob.connect("jsonl", path=tmp_path / "source.jsonl")
    for day in range(1, 11):
        source.create_order(
            ob.Order(
                source=ob.SourceRef("webinone-v1", str(day)),
                number=str(day),
                total=Decimal("1.10"),
                created_at=datetime(2022, 1, day, tzinfo=UTC),
            )
        )
    source.close()
    config = _write(tmp_path)
    assert main(["migrate", "--config", str(config), "--dry-run"]) == 0
    assert "Dry run" in capsys.readouterr().out and not (tmp_path / "target.jsonl").exists()
    assert main(["migrate", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "written 3" in out and (tmp_path / "report.json").exists()
    # two workers write in completion order
    assert sorted(
        o.number or "" for o in ob.connect("jsonl", path=tmp_path / "target.jsonl").iter_orders()
    ) == [
        "5",
        "6",
        "7",
    ]
    assert main(["verify", "--config", str(config)]) == 0
    assert "3 order(s) compared, all equal" in capsys.readouterr().out
    assert main(["migrate", "--config", str(config), "--limit", "10"]) == 0
    assert "written 3, adopted 0, updated 0, skipped 3" in capsys.readouterr().out


def test_connected_closes_both_ends_and_the_source_when_the_target_cannot_connect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from orderbridge.migration import config as config_module

    closed: list[str] = []

    class End:
        def __init__(self, side: str) -> None:
            self.side = side

        def close(self) -> None:
            closed.append(self.side)

    def connect(options: object, *, section: str, config: object = None) -> End:
        if section == "target" and isinstance(options, dict) and options.get("fail"):
            raise ob.ConfigurationError("[target] cannot connect")
        return End(section)

    monkeypatch.setattr(config_module, "connect_endpoint", connect)
    run = config_module.config_from_dict(
        {"source": {"backend": "jsonl", "path": "a.jsonl"}, "target": {"backend": "jsonl", "path": "b.jsonl"}}
    )
    with config_module.connected(run) as (source, target):
        assert (source.side, target.side) == ("source", "target")
    assert closed == ["target", "source"]
    closed.clear()
    failing = attrs.evolve(run, target={**run.target, "fail": True})
    with pytest.raises(ob.ConfigurationError), config_module.connected(failing):
        pass
    assert closed == ["source"]
