"""Accounts, passwords, sessions and the login rate limit, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from edge_agent.station.auth import ratelimit
from edge_agent.station.auth.accounts import AccountError, add_user, login, set_disabled, set_password
from edge_agent.station.auth.passwords import verify_password
from edge_agent.station.auth.roles import Role
from edge_agent.station.auth.sessions import create, end, lookup
from edge_agent.station.store.engine import connect
from tests.station.test_web_support import CHEAP, PASSWORD, TestClient, csrf_of, make_ward
from tests.station.test_web_support import login as form_login


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    e = connect(db_url)
    yield e
    e.dispose()


def test_an_account_is_stored_as_an_argon2id_hash_and_logs_in(engine: Engine) -> None:
    add_user(engine, "officer.an", "police", PASSWORD, "admin1", hasher=CHEAP)
    from sqlalchemy import select

    from edge_agent.station.store.web_tables import users

    with engine.connect() as conn:
        stored = conn.execute(select(users.c.password_hash)).scalar()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert verify_password(stored, PASSWORD) and not verify_password(stored, PASSWORD + "x")
    ok = login(engine, "Officer.An ", PASSWORD, "10.0.0.1", 5, 900)
    assert ok.user is not None and ok.user.role is Role.POLICE


@pytest.mark.parametrize(
    ("name", "role", "password", "says"),
    [
        ("Bad Name", "police", PASSWORD, "not an account name"),
        ("an", "sheriff", PASSWORD, "not a role; use one of: admin, police, volunteer, resident"),
        ("an", "police", "short", "at least 10 characters"),
        ("longname", "police", "my longname pass", "must not contain the account's name"),
    ],
)
def test_a_bad_account_is_refused_with_one_clear_reason(
    engine: Engine, name: str, role: str, password: str, says: str
) -> None:
    with pytest.raises(AccountError, match=says):
        add_user(engine, name, role, password, "admin1", hasher=CHEAP)


def test_a_second_account_of_the_same_name_is_refused(engine: Engine) -> None:
    add_user(engine, "binh", "volunteer", PASSWORD, "admin1", hasher=CHEAP)
    with pytest.raises(AccountError, match="already exists"):
        add_user(engine, "binh", "resident", PASSWORD, "admin1", hasher=CHEAP)


def test_failed_logins_are_limited_per_account_and_a_good_one_resets(engine: Engine) -> None:
    add_user(engine, "chi", "police", PASSWORD, "admin1", hasher=CHEAP)
    for _ in range(3):
        assert login(engine, "chi", "wrong password", "10.0.0.9", 3, 900).user is None
    blocked = login(engine, "chi", PASSWORD, "10.0.0.9", 3, 900)
    assert blocked.user is None and 0 < blocked.retry_after_s <= 900
    with engine.begin() as conn:  # the window passes
        later = 10**18
        assert ratelimit.retry_after_s(conn, "chi", "10.0.0.9", later, 3, 900) == 0
        ratelimit.forget(conn, "nobody", later, 900)
    assert login(engine, "chi", PASSWORD, "10.0.0.9", 3, 900).user is not None


def test_one_address_trying_many_names_is_limited_too(engine: Engine) -> None:
    for i in range(8):
        login(engine, f"guess{i}", "wrong password", "192.0.2.7", 2, 900)
    assert login(engine, "someone-new", "x", "192.0.2.7", 2, 900).retry_after_s > 0
    assert login(engine, "someone-new", "x", "192.0.2.8", 2, 900).retry_after_s == 0


def test_sessions_end_on_logout_disable_and_password_change(engine: Engine) -> None:
    user = add_user(engine, "dung", "volunteer", PASSWORD, "admin1", hasher=CHEAP)
    token = create(engine, user, 1)
    found = lookup(engine, token)
    assert found is not None and found[0] == user and len(found[1]) > 20
    end(engine, token)
    assert lookup(engine, token) is None
    token = create(engine, user, 1)
    set_disabled(engine, "dung", True, "admin1")
    assert lookup(engine, token) is None
    assert login(engine, "dung", PASSWORD, "10.0.0.1", 5, 900).user is None
    set_disabled(engine, "dung", False, "admin1")
    token = create(engine, user, 1)
    set_password(engine, "dung", "a brand new password", "admin1")
    assert lookup(engine, token) is None
    assert lookup(engine, None) is None and lookup(engine, "x" * 500) is None


def test_an_expired_session_opens_nothing(engine: Engine) -> None:
    user = add_user(engine, "giang", "resident", PASSWORD, "admin1", hasher=CHEAP)
    assert lookup(engine, create(engine, user, 1e-9)) is None


def test_the_login_form_sets_a_secure_httponly_samesite_cookie_and_limits_attempts(tmp_path: Path) -> None:
    ward = make_ward(tmp_path)
    c = ward.client(None)
    r = form_login(c, "police1", PASSWORD)
    assert r.status_code == 303 and r.headers["location"] == "/events"  # type: ignore[attr-defined]
    cookie = r.headers["set-cookie"].lower()  # type: ignore[attr-defined]
    assert "edge_station_session=" in cookie
    assert all(flag in cookie for flag in ("secure", "httponly", "samesite=lax"))
    other = TestClient(ward.app, base_url="https://testserver", follow_redirects=False)
    for _ in range(5):
        r = form_login(other, "volunteer1", "not the password")
        assert r.status_code == 200 and "Sai tên hoặc mật khẩu." in r.text  # type: ignore[attr-defined]
    r = form_login(other, "volunteer1", PASSWORD)
    assert r.status_code == 429 and "Hãy thử lại sau" in r.text  # type: ignore[attr-defined]


def test_login_redirects_only_to_a_path_on_this_site(tmp_path: Path) -> None:
    ward = make_ward(tmp_path)
    c = ward.client(None)
    token = csrf_of(c)
    for target, lands in (
        ("//evil.example/x", "/fleet"),
        ("https://evil.example", "/fleet"),
        ("/poles/pole1", "/poles/pole1"),
    ):
        r = c.post("/login", data={"csrf": token, "name": "admin1", "password": PASSWORD, "next": target})
        assert r.headers["location"] == lands
        token = csrf_of(c, "/wall")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(max_size=200), password=st.text(max_size=300), extra=st.text(max_size=50))
def test_any_login_form_gets_an_answer_never_a_server_error(
    tmp_path_factory: pytest.TempPathFactory, name: str, password: str, extra: str
) -> None:
    ward = _fuzz_ward(tmp_path_factory)
    c = ward.client(None)
    token = csrf_of(c)
    r = c.post("/login", data={"csrf": token, "name": name, "password": password, "next": extra})
    assert r.status_code in (200, 303, 429)


_wards: dict[str, object] = {}


def _fuzz_ward(factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    if "w" not in _wards:
        from edge_agent.station.config import WebConfig

        _wards["w"] = make_ward(factory.mktemp("fuzz"), web=WebConfig(login_max_failures=100))
    return _wards["w"]


def test_adduser_from_the_command_line(tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "edge_agent.station.auth",
        "--database",
        f"sqlite:///{tmp_path / 'station.db'}",
    ]
    ok = subprocess.run(
        [*cmd, "huong", "--role", "police", "--password-stdin"],
        input=f"{PASSWORD}\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0 and "account huong (police) created" in ok.stdout
    again = subprocess.run(
        [*cmd, "huong", "--role", "police", "--password-stdin"],
        input=f"{PASSWORD}\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 4 and again.stderr.strip().endswith("account 'huong' already exists")
    assert "Traceback" not in again.stderr
    bad = subprocess.run(
        [*cmd, "khanh", "--role", "police", "--password-stdin"],
        input="short\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (
        bad.returncode == 4 and "at least 10 characters" in bad.stderr and len(bad.stderr.splitlines()) == 1
    )
