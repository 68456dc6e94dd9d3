"""Typed options, declared once: ``connect()``, TOML sections and ``--option`` read them strictly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pytest
import responses

import orderbridge as ob
from orderbridge import plugins
from orderbridge.cli import main
from orderbridge.migration.config import connect_endpoint, load_config

CANARY = "canary-options-s3cret"


@attrs.frozen(kw_only=True)
class SampleOptions:
    base_url: ob.HttpUrl | None = ob.option(None, doc="the origin")
    client_secret: str | None = ob.option(None, secret=True, doc="the secret")
    allow_http: bool = ob.option(False, doc="plain http")
    page_size: int = ob.option(100, doc="orders per page")
    rate_limit: float | None = ob.option(None, doc="requests per second")
    timeout: ob.Timeout = ob.option((5.0, 30.0), doc="seconds")
    zone: ob.TimeZone = ob.option(ob.TimeZone("UTC"), doc="a zone")
    path: Path | None = ob.option(None, doc="a file")
    policy: str = ob.option("fail", doc="text")
    transport: ob.Transport | None = ob.option(None, python_only=True, doc="a transport")


def structure(values: dict[str, Any], **kwargs: Any) -> SampleOptions:
    return ob.structure_options(SampleOptions, values, where="[target]", **kwargs)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("YES", True), ("1", True), (" no ", False), ("False", False), ("0", False),
     (True, True), (0, False)],
)  # fmt: skip
def test_a_boolean_is_one_of_six_words(text: Any, expected: bool) -> None:
    assert structure({"allow_http": text}).allow_http is expected


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"allow_http": "banana"},
            "[target] allow_http: 'banana' is not a boolean (true, false, yes, no, 1 or 0)",
        ),
        ({"allow_http": "on"}, "allow_http: 'on' is not a boolean"),
        ({"allow_http": 2}, "allow_http: 2 is not a boolean"),
        ({"page_size": "four"}, "[target] page_size: 'four' is not an integer"),
        ({"page_size": 5.5}, "page_size: 5.5 is not an integer"),
        ({"page_size": True}, "page_size: True is not an integer"),
        ({"rate_limit": "fast"}, "rate_limit: 'fast' is not a number"),
        ({"rate_limit": "nan"}, "rate_limit: 'nan' is not a number"),
        ({"timeout": "0"}, "timeout: '0' is not seconds above 0"),
        ({"timeout": [1, 2, 3]}, "timeout: [1, 2, 3] is not seconds"),
        ({"zone": "Mars/Olympus"}, "zone: 'Mars/Olympus' is not an IANA time zone name"),
        ({"base_url": "ftp://shop.example.com"}, "base_url: 'ftp://shop.example.com' is not an http(s) URL"),
        ({"base_url": "shop.example.com"}, "is not an http(s) URL"),
        ({"policy": 3}, "policy: 3 is not text"),
        ({"path": ""}, "path: '' is not a file path"),
        ({"pagesize": 5}, "[target] pagesize: unknown option; did you mean page_size?"),
        ({"client_secert_env": "X"}, "client_secert_env: unknown option; did you mean client_secret_env?"),
        ({"colour": 5}, "colour: unknown option; known: base_url, client_secret"),
        ({"client_secret_env": "OB_UNSET_VARIABLE"}, "environment variable 'OB_UNSET_VARIABLE' is not set"),
    ],
)
def test_a_bad_option_is_one_line_naming_where_the_key_the_value_and_what_was_expected(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises(ob.OptionError) as caught:
        structure(values, environ={})
    text = str(caught.value)
    assert message in text and "\n" not in text
    assert caught.value.key in text and caught.value.where == "[target]"


def test_text_from_the_command_line_is_typed() -> None:
    options = structure({"allow_http": "false", "page_size": "50", "rate_limit": "2.5", "timeout": "3,20",
                         "path": "a.jsonl", "zone": "Australia/Sydney"})  # fmt: skip
    assert options.allow_http is False and options.page_size == 50 and options.rate_limit == 2.5
    assert options.timeout == (3.0, 20.0) and options.path == Path("a.jsonl")
    assert structure({"timeout": 7}).timeout == 7.0


def test_a_secret_value_never_appears_in_an_error_or_a_repr() -> None:
    with pytest.raises(ob.OptionError) as caught:
        structure({"client_secret": 12345678})
    assert "12345678" not in str(caught.value) and "a value of type int is not text" in str(caught.value)
    options = structure({"client_secret": CANARY})
    assert CANARY not in repr(options)


def test_env_keys_read_the_environment_and_a_key_given_twice_is_an_error() -> None:
    options = structure({"client_secret_env": "OB_SECRET"}, environ={"OB_SECRET": CANARY})
    assert options.client_secret == CANARY
    with pytest.raises(ob.OptionError, match="given twice"):
        structure({"client_secret": "a", "client_secret_env": "OB_SECRET"}, environ={"OB_SECRET": "b"})


def test_python_only_options_are_refused_from_a_file_or_the_command_line() -> None:
    with pytest.raises(ob.OptionError, match=r"\[target\] transport: can only be given from Python"):
        structure({"transport": "x"}, from_python=False)
    with pytest.raises(ob.OptionError, match="transport: 'x' is not a Transport object"):
        structure({"transport": "x"})


def test_every_option_needs_a_doc_and_every_field_must_be_an_option() -> None:
    with pytest.raises(TypeError, match="one-line doc"):
        ob.option(1, doc=" ")

    @attrs.frozen
    class Undeclared:
        page_size: int = 5

    with pytest.raises(TypeError, match=r"Undeclared.page_size is not declared with orderbridge.option"):

        class Bad(ob.Backend):
            name: ClassVar[str] = "bad"
            Options = Undeclared


# ---------------------------------------------------------------- the built-in backends


def test_connect_reads_options_strictly() -> None:
    cart = ob.connect("lunasoft-cart", base_url="https://shop.example.com/cart", api_key="k",
                      fetch_statuses="false")  # fmt: skip
    assert cart.fetch_statuses is False  # type: ignore[attr-defined]
    assert (
        ob.connect(
            "lunasoft-cart", base_url="https://s.example.com", api_key="k", fetch_statuses="0"
        ).options.fetch_statuses
        is False
    )
    with pytest.raises(ob.OptionError, match="lunasoft-cart fetch_statuses: 'banana' is not a boolean"):
        ob.connect("lunasoft-cart", base_url="https://s.example.com", api_key="k", fetch_statuses="banana")
    with pytest.raises(
        ob.OptionError, match="webinone-v1 client_secert: unknown option; did you mean client_secret"
    ):
        ob.connect("webinone-v1", base_url="https://s.example.com", client_id="i", client_secert="s")
    with pytest.raises(ob.OptionError, match="webinone-v2 page_size: 1 is below 2"):
        ob.connect("webinone-v2", base_url="https://s.example.com", token="t", page_size="1")


def test_a_backend_takes_a_ready_options_instance_or_its_first_option_positionally(tmp_path: Path) -> None:
    cls = ob.get_backend("jsonl")
    assert cls.Options is not None
    path = tmp_path / "a.jsonl"
    assert cls(cls.Options(path=path)).path == cls(str(path)).path == path  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="given twice"):
        cls(str(path), path=str(path))


@responses.activate  # no URL registered: any request attempted fails the test
def test_export_with_allow_http_false_to_a_remote_http_url_is_refused_before_any_connection(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["export", "--from", "webinone-v2", "--to", str(tmp_path / "out.jsonl"),
            "--option", "base_url=http://shop.example.com", "--option", "token_env=OB_TOKEN"]  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OB_TOKEN", CANARY)
        assert main([*args, "--option", "allow_http=false"]) == 2  # a configuration error
        err = capsys.readouterr().err
        assert "plain http is refused for shop.example.com" in err
        assert main([*args, "--option", "allow_http=banana"]) == 2
        err = capsys.readouterr().err
        assert "--option allow_http: 'banana' is not a boolean" in err and err.count("\n") == 1
        assert main([*args, "--option", "per_page=50"]) == 2
        assert "--option per_page: unknown option; did you mean page_size?" in capsys.readouterr().err
    assert len(responses.calls) == 0 and not (tmp_path / "out.jsonl").exists()


def test_backends_options_lists_every_declared_option(capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("webinone-v2", "webinone-v1", "lunasoft-cart", "jsonl"):
        assert main(["backends", "--options", name]) == 0
        out = capsys.readouterr().out
        declared = ob.get_backend(name).Options
        assert declared is not None
        for info in ob.declared_options(declared):
            assert any(line.startswith(f"{info.name} ") and info.doc in line for line in out.splitlines())
    assert main(["backends", "--options", "lunasoft-cart", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["fetch_statuses"] == {"name": "fetch_statuses", "type": "boolean", "default": "true",
                                      "doc": rows["fetch_statuses"]["doc"]}  # fmt: skip
    assert "a secret" in rows["api_key"]["doc"]


# ---------------------------------------------------------------- a third-party backend


class Undeclared(ob.Backend):
    """A plugin written before options were declared: its constructor's keywords are its options."""

    name: ClassVar[str] = "undeclared"

    def __init__(self, base_url: str, *, page_size: int = 10) -> None:
        self.base_url = base_url
        self.page_size = page_size


class UndeclaredPlugin:
    @ob.hookimpl
    def orderbridge_register_backends(self, registry: ob.BackendRegistry) -> None:
        registry.add(Undeclared)


@pytest.fixture
def undeclared() -> Iterator[None]:
    plugin = UndeclaredPlugin()
    ob.register(plugin, name="undeclared-plugin")
    yield
    ob.unregister(plugin)
    plugins.reset()


@pytest.mark.usefixtures("undeclared")
def test_an_unknown_option_of_an_undeclared_backend_is_an_error_not_a_traceback() -> None:
    with pytest.raises(ob.OptionError, match="undeclared per_page: unknown option; did you mean page_size"):
        ob.connect("undeclared", base_url="https://x.example.com", per_page=50)
    assert ob.connect("undeclared", base_url="https://x.example.com", page_size=5).page_size == 5  # type: ignore[attr-defined]


# ---------------------------------------------------------------- the configuration file

RUN = """
[source]
backend = "jsonl"
path = "source.jsonl"

[target]
backend = "jsonl"
path = "target.jsonl"

[run]
{run}
"""


def _config(tmp_path: Path, run: str = "", text: str | None = None) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(text if text is not None else RUN.format(run=run))
    return path


@pytest.mark.parametrize(
    ("run", "check"),
    [
        ('dry_run = "no"', lambda c: c.dry_run is False),
        ('dry_run = "yes"', lambda c: c.dry_run is True),
        ('workers = "8"', lambda c: c.workers == 8),
        ("min_id = 1000\nids = [1001, \"1002\"]", lambda c: c.selection.min_id == "1000"
         and c.selection.ids == ("1001", "1002")),
        ('mode = "update"', lambda c: c.mode == "update"),
    ],
)  # fmt: skip
def test_the_run_section_is_typed(tmp_path: Path, run: str, check: Any) -> None:
    assert check(load_config(_config(tmp_path, run)))


@pytest.mark.parametrize(
    ("run", "message"),
    [
        ('dry_run = "maybe"', "[run] dry_run: 'maybe' is not a boolean"),
        ('workers = "four"', "[run] workers: 'four' is not an integer"),
        ("workers = 0", "[run] workers: 0 is below 1"),
        ("limit = -5", "[run] limit: -5 is below 0"),
        ("worker = 2", "[run] worker: unknown option; did you mean workers?"),
        ('ids = "1001"', "[run] ids: '1001' is not a list"),
        ('mode = "skipp"', "[run] mode: 'skipp' is not 'skip' or 'update'"),
        ('since = "yesterday"', "[run] since: 'yesterday' is not an ISO 8601 date or datetime"),
    ],
)
def test_a_bad_run_section_is_one_line(tmp_path: Path, run: str, message: str) -> None:
    with pytest.raises(ob.OptionError) as caught:
        load_config(_config(tmp_path, run))
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        ('[references]\nidentity = "nope"\n', "[references] identity: 'nope' is not a boolean"),
        ("[references.statuses]\nPaid = 1\n", "unknown kind; did you mean [references.status]"),
        ("[references.status]\nPaid = true\n", "[references.status] 'Paid': True is not a target id"),
        ("[runn]\n", "[runn]: unknown section; did you mean [run]?"),
    ],
)  # fmt: skip
def test_a_bad_references_section_or_section_name_is_one_line(
    tmp_path: Path, tail: str, message: str
) -> None:
    with pytest.raises(ob.OptionError) as caught:
        load_config(_config(tmp_path, text=RUN.format(run="") + tail))
    assert message in str(caught.value)


def test_endpoint_sections_are_typed_when_connected(tmp_path: Path) -> None:
    text = RUN.format(run="").replace(
        'backend = "jsonl"\npath = "target.jsonl"',
        'backend = "webinone-v2"\nbase_url = "http://shop.example.com"\ntoken = "t"\nallow_http = "false"',
    )
    config = load_config(_config(tmp_path, text=text))
    with pytest.raises(ob.ConfigurationError, match="plain http is refused"):
        connect_endpoint(config.target, config=config, section="target")
    bad = text.replace('allow_http = "false"', "alow_http = true")
    config = load_config(_config(tmp_path, text=bad))
    with pytest.raises(
        ob.OptionError, match=r"\[target\] alow_http: unknown option; did you mean allow_http"
    ):
        connect_endpoint(config.target, config=config, section="target")
    missing = RUN.format(run="").replace('backend = "jsonl"\npath = "source.jsonl"', 'path = "a"')
    with pytest.raises(ob.OptionError, match=r"\[source\] backend: required"):
        load_config(_config(tmp_path, text=missing))
