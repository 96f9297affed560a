"""`edge-agent station adduser NAME --role ROLE`: create an account (the password is asked twice,
or read from standard input with --password-stdin)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence

from edge_agent.station.auth.accounts import AccountError, add_user
from edge_agent.station.auth.roles import Role

EXIT_ACCOUNT = 4


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="account name: a-z 0-9 . _ -")
    p.add_argument("--role", required=True, choices=[r.value for r in Role])
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise AccountError("the two passwords differ; nothing was created")
    return first


def adduser(database_url: str, name: str, role: str, password: str, actor: str) -> int:
    """Create the account; prints one line and returns the exit status (0, or 4 with the reason)."""
    from edge_agent.station.store.engine import connect

    engine = connect(database_url)
    try:
        user = add_user(engine, name, role, password, actor)
    except AccountError as exc:
        print(f"edge-agent station adduser: {exc}", file=sys.stderr)
        return EXIT_ACCOUNT
    finally:
        engine.dispose()
    print(f"account {user.name} ({user.role.value}) created")
    return 0


def run_adduser(database_url: str, name: str, role: str, password_stdin: bool, actor: str) -> int:
    """The `adduser` command: read the password (asked twice, or one line of standard input),
    create the account; one line and exit status 4 on any problem."""
    try:
        password = read_password(password_stdin)
    except AccountError as exc:
        print(f"edge-agent station adduser: {exc}", file=sys.stderr)
        return EXIT_ACCOUNT
    return adduser(database_url, name, role, password, actor)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m edge_agent.station.auth --database URL NAME --role R [--password-stdin]`: the
    same as `edge-agent station adduser`, for a database named directly (the demo uses it)."""
    p = argparse.ArgumentParser(prog="python -m edge_agent.station.auth", description=__doc__.splitlines()[0])
    p.add_argument("--database", required=True, help="sqlite:///PATH or postgresql+psycopg://...")
    add_arguments(p)
    args = p.parse_args(argv)
    actor = os.environ.get("SUDO_USER") or getpass.getuser()
    return run_adduser(args.database, args.name, args.role, args.password_stdin, actor)
