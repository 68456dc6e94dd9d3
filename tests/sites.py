"""Two simulated WebinOne sites on loopback for end-to-end migrations: an old (v1) one, a new (v2) one."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orderbridge as ob
from orderbridge.sandbox import SimServer, available_simulators

TOKEN_PATH = "/api/v1/oauth/token"


def _webinone() -> Any:
    return available_simulators()["webinone"]


class Sites:
    """An old (v1) site with seeded orders and a new, empty (v2) site sharing its catalogs.

    The new site soft-deletes (a deleted order stays, ``IsDeleted: true``), so a test
    can see every order a migration ever deleted.
    """

    def __init__(self, count: int, seed: int = 3, *, soft_delete: bool = True) -> None:
        sim = _webinone()
        self.old = sim(client_id="old", client_secret="old-secret", id_start=28000)
        self.new = sim(client_id="new", client_secret="new-secret", id_start=1000, soft_delete=soft_delete)
        self.old.seed(count, seed=seed)
        self.count = count
        self.old_server = SimServer(self.old).start()
        self.new_server = SimServer(self.new).start()

    def tables(self) -> dict[str, dict[str, str]]:
        return {k: {str(a): str(b) for a, b in t.items()} for k, t in self.new.catalog_tables().items()}

    def source(self, **options: Any) -> ob.Backend:
        return ob.connect("webinone-v1", base_url=self.old_server.url, **self.old.credentials(), **options)

    def target(self, **options: Any) -> ob.Backend:
        resolver = ob.ReferenceResolver(self.tables())
        return ob.connect(
            "webinone-v2",
            base_url=self.new_server.url,
            resolver=resolver,
            **self.new.credentials(),
            **options,
        )

    def write_config(
        self,
        path: Path,
        *,
        workers: int = 4,
        extra_target: str = "",
        state: str | None = None,
        extra_run: str = "",
    ) -> Path:
        lines = [
            "[source]",
            'backend = "webinone-v1"',
            f'base_url = "{self.old_server.url}"',
            f'client_id = "{self.old.credentials()["client_id"]}"',
            'client_secret_env = "E2E_OLD_SECRET"',
            "",
            "[target]",
            'backend = "webinone-v2"',
            f'base_url = "{self.new_server.url}"',
            f'client_id = "{self.new.credentials()["client_id"]}"',
            'client_secret_env = "E2E_NEW_SECRET"',
            extra_target,
            "",
            "[run]",
            f'state = "{state or path.parent / "state.sqlite"}"',
            f'report = "{path.parent / "report.json"}"',
            f"workers = {workers}",
            extra_run,
            "",
        ]
        for kind, table in self.tables().items():
            lines.append(f"[references.{kind}]")
            lines += [f'"{k}" = "{v}"' for k, v in table.items()]
            lines.append("")
        path.write_text("\n".join(lines), encoding="utf-8")
        return path

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "E2E_OLD_SECRET": self.old.credentials()["client_secret"],
            "E2E_NEW_SECRET": self.new.credentials()["client_secret"],
        }

    def close(self) -> None:
        self.old_server.stop()
        self.new_server.stop()


STAMP_FIELD = "migration.source"
"""The custom CRM field (``GroupAlias.FieldAlias``) the stamped tests write the stamp to."""


def live_docs(sim: Any) -> dict[int, dict[str, Any]]:
    """Every order a simulated site lists and has not deleted, by id (v2 documents)."""
    return {i: sim.order_doc(i) for i in sim.live_order_ids()}


def stamp_of(doc: dict[str, Any]) -> str | None:
    """The stamp text a v2 document carries in :data:`STAMP_FIELD`, if any."""
    group, field = STAMP_FIELD.split(".")
    value = (doc.get("CustomCrmGroups") or {}).get(group, {}).get(field)
    return value if isinstance(value, str) else None
