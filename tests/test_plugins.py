from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

import orderbridge as ob
from orderbridge import plugins


class Dummy(ob.Backend):
    name: ClassVar[str] = "dummy"
    capabilities: ClassVar[frozenset[str]] = frozenset({ob.Capability.READ})


class DummyPlugin:
    @ob.hookimpl
    def orderbridge_register_backends(self, registry: ob.BackendRegistry) -> None:
        registry.add(Dummy)


class ClashingPlugin:
    class OtherJsonl(ob.Backend):
        name: ClassVar[str] = "jsonl"

    @ob.hookimpl
    def orderbridge_register_backends(self, registry: ob.BackendRegistry) -> None:
        registry.add(self.OtherJsonl)


@pytest.fixture
def fresh_plugins() -> Iterator[None]:
    plugins.reset()
    yield
    plugins.reset()


def test_builtin_backends_come_through_entry_points(fresh_plugins: None) -> None:
    names = ob.available_backends()
    assert "jsonl" in names
    assert plugins.backend_providers()["jsonl"] == "jsonl"


def test_register_adds_a_backend_and_unregister_removes_it(fresh_plugins: None) -> None:
    plugin = DummyPlugin()
    ob.register(plugin, name="dummy-plugin")
    assert ob.get_backend("dummy") is Dummy
    assert plugins.backend_providers()["dummy"] == "dummy-plugin"
    ob.unregister(plugin)
    with pytest.raises(ob.BackendNotFound):
        ob.get_backend("dummy")


def test_unknown_backend_lists_the_known_ones(fresh_plugins: None) -> None:
    with pytest.raises(ob.BackendNotFound) as info:
        ob.get_backend("magento")
    assert "jsonl" in str(info.value)
    assert "jsonl" in info.value.known


def test_two_plugins_claiming_one_name_is_an_error_naming_both(fresh_plugins: None) -> None:
    ob.register(ClashingPlugin(), name="clash")
    with pytest.raises(ob.BackendConflict) as info:
        ob.available_backends()
    assert set(info.value.plugins) == {"jsonl", "clash"}
    assert "'jsonl'" in str(info.value) and "'clash'" in str(info.value)


def test_loading_is_idempotent(fresh_plugins: None) -> None:
    first = plugins.get_plugin_manager()
    assert plugins.get_plugin_manager() is first
    assert ob.available_backends() == ob.available_backends()


def _write_fake_distribution(root: Path, hook: str = "orderbridge_register_backends") -> None:
    (root / "fakeplug.py").write_text(
        textwrap.dedent(f"""
        import orderbridge as ob

        class Fake(ob.Backend):
            name = "fake"
            capabilities = frozenset({{"read"}})

        @ob.hookimpl
        def {hook}(registry):
            registry.add(Fake)
    """)
    )
    info = root / "fakeplug-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeplug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[orderbridge]\nfake = fakeplug\n")


def _run(code: str, root: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHONPATH": str(root), **env}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environ, check=False
    )


def test_third_party_entry_point_plugin_is_discovered_and_can_be_blocked(tmp_path: Path) -> None:
    _write_fake_distribution(tmp_path)
    code = "import orderbridge as ob, json; print(json.dumps(sorted(ob.available_backends())))"
    found = json.loads(_run(code, tmp_path).stdout)
    assert "fake" in found and "jsonl" in found
    blocked = json.loads(_run(code, tmp_path, ORDERBRIDGE_BLOCK_PLUGINS="fake, jsonl").stdout)
    assert "fake" not in blocked and "jsonl" not in blocked


def test_a_mistyped_hook_name_is_an_error_naming_it_not_silence(tmp_path: Path) -> None:
    _write_fake_distribution(tmp_path, hook="orderbridge_register_backend")
    result = _run("import orderbridge as ob; ob.available_backends()", tmp_path)
    assert result.returncode != 0
    assert (
        "plugin 'fake' implements 'orderbridge_register_backend', which is not an orderbridge hook "
        "(did you mean orderbridge_register_backends?)" in result.stderr
    )


def test_a_plugin_registered_by_hand_with_a_mistyped_hook_is_refused(fresh_plugins: None) -> None:
    class Typo:
        @ob.hookimpl
        def orderbridge_resolve_referenc(self, kind: str, value: str) -> None:
            return None

    with pytest.raises(ob.ConfigurationError, match="did you mean orderbridge_resolve_reference"):
        ob.register(Typo(), name="typo")
    assert "typo" not in [name for name, _ in plugins.get_plugin_manager().list_name_plugin()]


def test_import_loads_no_plugin_and_no_cli_library(tmp_path: Path) -> None:
    code = textwrap.dedent("""
        import sys, json
        import orderbridge
        from orderbridge import plugins
        print(json.dumps({
            "loaded": plugins._manager is not None,
            "modules": sorted(m for m in ("argparse", "orderbridge.cli", "orderbridge.progress",
                                          "orderbridge_jsonl", "orderbridge_webinone", "orderbridge_lunasoft")
                              if m in sys.modules),
        }))
    """)
    result = json.loads(_run(code, tmp_path).stdout)
    assert result == {"loaded": False, "modules": []}
