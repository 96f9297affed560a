"""A real PostgreSQL for tests: `initdb` in a temporary folder, a free loopback port.

As root (CI) the server runs as `nobody`, which PostgreSQL requires; the binaries come from
Debian's `postgresql` package (/usr/lib/postgresql/<version>/bin). Absent binaries skip the
tests that need them, with the reason.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.broker import free_port


def pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class Postgres:
    bindir: Path
    directory: Path
    port: int

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
        return subprocess.run([*prefix, *args], check=check, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        data = self.directory / "data"
        self._run(str(self.bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        opts = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(self.directory / "log"),
            "-o",
            opts,
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.directory / "data"),
            "-m",
            "immediate",
            "stop",
            check=False,
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    bindir = pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (scripts/test.sh installs it: apt install postgresql)")
    directory = Path(tempfile.mkdtemp(prefix="station-pg-"))
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(directory, nobody.pw_uid, nobody.pw_gid)
    pg = Postgres(bindir, directory, free_port())
    try:
        pg.start()
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(directory, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {exc.stderr}")
    try:
        yield pg
    finally:
        pg.stop()
        time.sleep(0.2)
        shutil.rmtree(directory, ignore_errors=True)
