"""references.toml: the dry run's template, read back, merged with the configuration's tables."""

from __future__ import annotations

import logging
import stat
import tomllib
from collections import Counter
from pathlib import Path

import pytest

import orderbridge as ob
from orderbridge.migration.config import load_config
from orderbridge.migration.references_file import (
    merge_tables,
    read_references_file,
    render_template,
    write_template,
)
from orderbridge.migration.report import MigrationReport

CANDIDATES = {
    "status": [ob.ReferenceCandidate("2041", "Paid"), ob.ReferenceCandidate("2042", 'Say "hi"\nthere')],
    "member": "webinone-v2 cannot list its member entries: look the ids up on the site",
}


def test_the_template_lists_values_counts_hints_and_candidates_and_reads_back_as_unmapped() -> None:
    unresolved = {"status": Counter({"Paid": 14, 'Odd "one"': 1}), "member": Counter({"33056": 2})}
    text = render_template(
        unresolved,
        candidates=dict(CANDIDATES),
        hints={"member": {"33056": "priya.r@example.com, Priya Raghunathan"}},
        source="webinone-v1",
        target="webinone-v2",
    )
    assert '"Paid" = ""  # 14 orders' in text
    assert '"Odd \\"one\\"" = ""  # 1 order' in text
    assert '"33056" = ""  # 2 orders; source: priya.r@example.com, Priya Raghunathan' in text
    assert "#   2041  Paid" in text and '#   2042  Say "hi" there' in text  # one comment line each
    assert "# webinone-v2 cannot list its member entries" in text
    assert '# "*" = ""  # every other status value' in text
    parsed = tomllib.loads(text)
    assert parsed["references"]["status"] == {"Paid": "", 'Odd "one"': ""}


def test_a_filled_file_reads_as_tables_with_empty_entries_left_out(tmp_path: Path) -> None:
    path = tmp_path / "references.toml"
    path.write_text('[references.status]\n"Paid" = "2041"\n"Shipped" = ""\n"*" = 2040\n')
    assert read_references_file(path) == {"status": {"Paid": "2041", "*": "2040"}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[references.stauts]\n"Paid" = "1"\n', "unknown kind; did you mean [references.status]?"),
        ('[references.tax]\n"GST" = 1.5\n', "[references.tax] 'GST' = 1.5 is not a target id"),
        ("[references]\nidentity = false\n", "identity and on_unresolved belong in the run configuration"),
        ('[run]\nstate = "x"\n', "only [references.<kind>] tables belong in a references file, not 'run'"),
    ],
)
def test_a_wrong_references_file_is_one_line_naming_file_kind_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "references.toml"
    path.write_text(text)
    with pytest.raises(ob.ConfigurationError) as caught:
        read_references_file(path)
    assert str(caught.value).startswith(f"{path}: ") and message in str(caught.value)


def test_the_file_wins_over_inline_tables_key_by_key(caplog: pytest.LogCaptureFixture) -> None:
    inline = {"status": {"Paid": "1", "New": "3"}, "tax": {"GST": "7"}}
    with caplog.at_level(logging.WARNING):
        merged = merge_tables(inline, {"status": {"Paid": "2", "*": "9"}}, file="references.toml")
    assert merged == {"status": {"Paid": "2", "New": "3", "*": "9"}, "tax": {"GST": "7"}}
    warning = "[references.status] 'Paid': references.toml maps it to '2', the configuration to '1'"
    assert warning in caplog.text


def _config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "run.toml"
    path.write_text(
        '[source]\nbackend = "jsonl"\npath = "in.jsonl"\n\n[target]\nbackend = "jsonl"\npath = "out.jsonl"\n'
        f'\n[run]\n{extra}\n[references.status]\n"Paid" = "1"\n"New" = "3"\n'
    )
    return path


def test_references_file_in_run_is_relative_to_the_configuration_and_a_flag_overrides_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "refs.toml").write_text('[references.status]\n"Paid" = "2"\n')
    config = load_config(_config(tmp_path, 'references_file = "refs.toml"'))
    assert config.references_file == tmp_path / "refs.toml"
    assert config.reference_tables == {"status": {"Paid": "2", "New": "3"}}
    other = tmp_path / "other.toml"
    other.write_text('[references.status]\n"New" = "4"\n')
    config = load_config(_config(tmp_path, 'references_file = "refs.toml"'), references_file=str(other))
    assert config.reference_tables == {"status": {"Paid": "1", "New": "4"}}


def test_a_missing_references_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ob.ConfigurationError, match="cannot read the references file"):
        load_config(_config(tmp_path, 'references_file = "nowhere.toml"'))


class _Lists(ob.Backend):
    name = "lists"

    def list_references(self, kind: str) -> list[ob.ReferenceCandidate] | None:
        return [ob.ReferenceCandidate("2041", "Paid")] if kind == "status" else None


def test_write_template_keeps_what_an_earlier_file_maps_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "references.toml"
    path.write_text('[references.status]\n"Paid" = "2041"\n"Lost" = ""\n[references.tax]\n"GST" = "7"\n')
    report = MigrationReport(source="webinone-v1", target="lists", dry_run=True)
    report.add_unresolved("status", "Shipped")
    report.add_unresolved("member", "33056", "priya.r@example.com")
    assert write_template(path, report, _Lists()) == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it may name customers
    text = path.read_text()
    assert "#   2041  Paid" in text and "lists cannot list its member entries" in text
    assert tomllib.loads(text)["references"] == {
        "status": {"Paid": "2041", "Shipped": ""},  # "Lost" no longer needed
        "member": {"33056": ""},
        "tax": {"GST": "7"},
    }


def test_no_unresolved_reference_writes_no_template(tmp_path: Path) -> None:
    report = MigrationReport(source="a", target="b", dry_run=True)
    assert write_template(tmp_path / "references.toml", report, _Lists()) is None
    assert not (tmp_path / "references.toml").exists()
