"""A real PostgreSQL for the tests: a throwaway cluster in a temporary directory, started once per session.

The machine's PostgreSQL binaries are used (``pg_config --bindir``,
``/usr/lib/postgresql/*/bin``, or ``PATH``); when there are none the tests that
need the server FAIL, naming the package to install (``.ci/run`` installs it).
``initdb`` refuses to run as root, so as root the cluster is made and run by
the unprivileged ``postgres`` account (created when missing). The server
listens on a unix socket in the temporary directory and on a free loopback
port; local connections are trusted, TCP ones need the password
:data:`PASSWORD` (scram-sha-256), so that both ways of authenticating are tested.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from attrs import frozen

ACCOUNT = "postgres"
PASSWORD = "pg-test-secret-4711"
"""The superuser's password over TCP (a test asserts it appears in no output)."""


class PostgresMissing(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def find_bindir() -> Path:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if found.returncode == 0:
            candidates.append(Path(found.stdout.strip()))
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for folder in candidates:
        if all((folder / name).exists() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    raise PostgresMissing(
        "no PostgreSQL server binaries (initdb, pg_ctl) found via pg_config, /usr/lib/postgresql/*/bin "
        "or PATH: install them (`apt-get install -y postgresql`; .ci/run does)"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _account() -> pwd.struct_passwd | None:
    """The unprivileged account that runs the server when we are root (made when missing)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(ACCOUNT)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/bin/false", ACCOUNT], check=True
        )
        return pwd.getpwnam(ACCOUNT)


@frozen
class PostgresServer:
    """A running throwaway cluster."""

    root: Path
    bindir: Path
    port: int
    account: str | None

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    def url(self, migration: str, **query: str) -> str:
        """A state URL over the unix socket (trusted: no password)."""
        extra = "".join(f"&{k}={v}" for k, v in query.items())
        return f"postgresql://postgres@/postgres?host={self.socket_dir}&port={self.port}&migration={migration}{extra}"

    def tcp_url(self, migration: str | None, *, password: str | None = None, **query: str) -> str:
        """A state URL over loopback TCP (the password is required: from the environment, or literal)."""
        secret = f":{password}" if password is not None else ""
        pairs = ({"migration": migration} if migration is not None else {}) | query
        extra = "&".join(f"{k}={v}" for k, v in pairs.items())
        return f"postgresql://postgres{secret}@127.0.0.1:{self.port}/postgres" + (
            f"?{extra}" if extra else ""
        )

    def _as_account(self, command: Sequence[str]) -> list[str]:
        return ["runuser", "-u", self.account, "--", *command] if self.account else list(command)

    def run(self, *command: str) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL program of :attr:`bindir` as the server's account."""
        return subprocess.run(
            self._as_account([str(self.bindir / command[0]), *command[1:]]),
            capture_output=True,
            text=True,
            check=False,
            cwd=self.root,
        )

    @classmethod
    def start(cls) -> PostgresServer:
        """initdb and start a cluster in a new temporary directory."""
        bindir = find_bindir()
        account = _account()
        root = Path(tempfile.mkdtemp(prefix="orderbridge-pg-"))
        (root / "socket").mkdir()
        (root / "pwfile").write_text(PASSWORD + "\n", encoding="utf-8")
        if account is not None:
            for path in (root, root / "socket", root / "pwfile"):
                os.chown(path, account.pw_uid, account.pw_gid)
        server = cls(root=root, bindir=bindir, port=_free_port(), account=ACCOUNT if account else None)
        steps = [
            ("initdb", "-D", str(root / "data"), "-U", "postgres", "--auth-local=trust",
             "--auth-host=scram-sha-256", f"--pwfile={root / 'pwfile'}", "-E", "UTF8", "--no-sync"),
            ("pg_ctl", "-D", str(root / "data"), "-l", str(root / "server.log"), "-w", "-t", "60",
             "-o", f"-p {server.port} -k {root / 'socket'} -c listen_addresses=127.0.0.1 -c fsync=off",
             "start"),
        ]  # fmt: skip
        for step in steps:
            done = server.run(*step)
            if done.returncode != 0:
                log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
                shutil.rmtree(root, ignore_errors=True)
                raise RuntimeError(f"{step[0]} failed: {done.stdout}{done.stderr}{log}")
        return server

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        self.run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
