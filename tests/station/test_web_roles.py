"""Every route × every role, server side: the allowed set is exactly the one written here."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from starlette.routing import Mount, Route

from edge_agent.station.config import WebConfig
from edge_agent.station.web.policy import RULES
from tests.station.test_web_support import ROLES, Ward, csrf_of, make_ward

ANY = {"anonymous", *ROLES}
A, P, V, R = "admin", "police", "volunteer", "resident"

# (method, route) → who may use it. Written from the issue, not read from the policy.
EXPECTED: dict[tuple[str, str], set[str]] = {
    ("GET", "/"): ANY,
    ("GET", "/login"): ANY,
    ("POST", "/login"): ANY,
    ("POST", "/logout"): ANY,
    ("POST", "/language"): ANY,
    ("GET", "/static/{path:path}"): ANY,
    ("GET", "/notify/ack/{token}"): ANY,  # the signed token is the permission (test_notify_delivery)
    ("POST", "/notify/ack/{token}"): ANY,
    ("GET", "/wall"): {A, P, V, R},
    ("GET", "/wall/live"): {A, P, V, R},
    ("GET", "/wall/{device}/{camera}.jpg"): {A, P, V, R},
    ("GET", "/fleet"): {A, P, V},
    ("GET", "/fleet/live"): {A, P, V},
    ("GET", "/poles/{device}"): {A, P, V},
    ("GET", "/poles/{device}/look"): {A, P, V},
    ("GET", "/poles/{device}/{camera}/snapshot.jpg"): {A, P, V},
    ("POST", "/poles/{device}/maintenance"): {A, V},
    ("POST", "/poles/{device}/snooze"): {A, V},
    ("GET", "/events"): {P},
    ("GET", "/events/{device}/{event_id}"): {P},
    ("POST", "/events/{device}/{event_id}/case"): {P},
    ("GET", "/pictures/{sha256}"): {P},
    ("POST", "/events/{device}/{event_id}/footage"): {P},
    ("POST", "/poles/{device}/key"): {A},
    ("GET", "/clips/{id:int}"): {P},
    ("GET", "/clips/{id:int}.mp4"): {P},
    ("GET", "/cases"): {P},
    ("POST", "/cases"): {P},
    ("GET", "/cases/{name}"): {P},
    ("POST", "/cases/{name}/hold"): {P},
    ("POST", "/cases/{name}/remove"): {P},
    ("POST", "/cases/{name}/export"): {P},
    ("GET", "/audit"): {A},
    ("GET", "/notify"): {A},
    ("POST", "/notify/test"): {A},
    ("POST", "/notify/{id}/again"): {A},
    ("GET", "/users"): {A},
    ("POST", "/users"): {A},
    ("POST", "/users/{name}/disable"): {A},
    ("GET", "/api/events"): {P},
    ("GET", "/api/events/{device}/{event_id}"): {P},
    ("GET", "/api/pictures/{sha256}"): {P},
    ("GET", "/api/fleet"): {A, P, V},
    ("GET", "/api/counters"): {A, V},
    ("GET", "/api/cases"): {P},
    ("POST", "/api/cases"): {P},
    ("GET", "/api/cases/{name}"): {P},
    ("POST", "/api/cases/{name}"): {P},
}

_n = itertools.count()


def example(ward: Ward, method: str, route: str) -> tuple[str, dict[str, object]]:
    """A concrete path for `route` and what to send."""
    sha = ward.store_snapshot
    paths = {
        "/static/{path:path}": "/static/style.css",
        "/notify/ack/{token}": "/notify/ack/1.1796105600.not-signed",
        "/wall/{device}/{camera}.jpg": "/wall/pole1/cam0.jpg",
        "/poles/{device}": "/poles/pole1",
        "/poles/{device}/{camera}/snapshot.jpg": "/poles/pole1/cam0/snapshot.jpg",
        "/poles/{device}/maintenance": "/poles/pole1/maintenance",
        "/poles/{device}/snooze": "/poles/pole1/snooze",
        "/poles/{device}/key": "/poles/pole1/key",
        "/notify/{id}/again": "/notify/1/again",
        "/events/{device}/{event_id}": "/events/pole1/pole1-cam0-000003",
        "/events/{device}/{event_id}/case": "/events/pole1/pole1-cam0-000003/case",
        "/events/{device}/{event_id}/footage": "/events/pole1/pole1-cam0-000003/footage",
        "/clips/{id:int}": "/clips/1",
        "/clips/{id:int}.mp4": "/clips/1.mp4",
        "/pictures/{sha256}": f"/pictures/{sha}",
        "/cases/{name}": "/cases/case-1",
        "/cases/{name}/hold": "/cases/case-1/hold",
        "/cases/{name}/remove": "/cases/case-1/remove",
        "/cases/{name}/export": "/cases/case-1/export",
        "/users/{name}/disable": "/users/spare1/disable",
        "/api/events/{device}/{event_id}": "/api/events/pole1/pole1-cam0-000003",
        "/api/pictures/{sha256}": f"/api/pictures/{sha}",
        "/api/cases/{name}": "/api/cases/case-1",
    }
    n = next(_n)
    forms: dict[str, dict[str, object]] = {
        "/login": {"data": {"name": "nobody", "password": "wrong password"}},
        "/language": {"data": {"lang": "en", "back": "/"}},
        "/poles/{device}/maintenance": {"data": {"on": "1"}},
        "/poles/{device}/snooze": {"data": {"for": "3600", "camera": "cam0"}},
        "/notify/test": {"data": {"channel": "nope"}},
        "/events/{device}/{event_id}/case": {"data": {"case": "case-1"}},
        "/cases": {"data": {"name": f"walk-{n}", "reason": "route walk"}},
        "/cases/{name}/hold": {"data": {"held": "1"}},
        "/cases/{name}/remove": {"data": {"event": "pole1/pole1-cam0-000002"}},
        "/users": {"data": {"name": f"walker{n}", "role": "resident", "password": "a long password 1"}},
        "/users/{name}/disable": {"data": {"disabled": "0"}},
        "/api/cases": {"json": {"name": f"api-walk-{n}", "reason": "route walk"}},
        "/api/cases/{name}": {"json": {"held": True}},
    }
    return paths.get(route, route), forms.get(route, {}) if method == "POST" else {}


@pytest.fixture(scope="module")
def ward(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ward]:
    from sqlalchemy import select

    from edge_agent.station.auth.accounts import add_user
    from edge_agent.station.store.schema import cameras
    from tests.station.test_web_support import CHEAP

    w = make_ward(
        tmp_path_factory.mktemp("walk"),
        web=WebConfig(public_poles=["pole1"], live_interval_s=0.05, live_max_s=0.1),
    )
    add_user(w.engine, "spare1", "resident", "another long password", "test", hasher=CHEAP)
    with w.engine.connect() as conn:
        w.store_snapshot = conn.execute(  # type: ignore[attr-defined]
            select(cameras.c.snapshot_sha256).where(cameras.c.device == "pole1")
        ).scalar()
    yield w
    w.engine.dispose()


def app_routes(ward: Ward) -> set[tuple[str, str]]:
    out = set()
    for r in ward.app.app.routes:  # type: ignore[attr-defined]
        if isinstance(r, Mount):
            out.add(("GET", r.path + "/{path:path}"))
        elif isinstance(r, Route):
            out.update((m, r.path) for m in (r.methods or set()) - {"HEAD"})
    return out


def test_every_route_has_exactly_one_rule_and_the_table_covers_every_route(ward: Ward) -> None:
    assert app_routes(ward) == set(EXPECTED)
    ruled = {(m, r.path) for r in RULES for m in r.methods - {"HEAD"}}
    assert ruled == set(EXPECTED)


@pytest.mark.parametrize("who", ["anonymous", *ROLES])
def test_route_role_walk_allows_exactly_the_expected_set(ward: Ward, who: str) -> None:
    client = ward.client(None if who == "anonymous" else who)
    allowed, refused = set(), set()
    for method, route in sorted(EXPECTED):
        if route == "/logout":
            continue  # would end the walking session; anyone may log out
        path, body = example(ward, method, route)
        headers = {}
        if method == "POST":
            token = csrf_of(client, "/login") if who == "anonymous" else csrf_of(client, "/wall")
            if "data" in body:
                body = {"data": {**body["data"], "csrf": token}}  # type: ignore[dict-item]
            headers["X-CSRF-Token"] = token
        r = client.request(method, path, headers=headers, **body)  # type: ignore[arg-type]
        assert r.status_code < 500, f"{method} {path} as {who}: {r.status_code} {r.text[:300]}"
        to_login = r.status_code == 303 and r.headers["location"].startswith("/login")
        if r.status_code in (401, 403) or (to_login and route not in ("/", "/logout")):
            refused.add((method, route))
        else:
            allowed.add((method, route))
        if (method, route) not in EXPECTED or who not in EXPECTED[(method, route)]:
            expected_status = {401, 303} if who == "anonymous" else {403}
            assert r.status_code in expected_status, f"{method} {path} as {who}: {r.status_code}"
    want = {k for k, roles in EXPECTED.items() if who in roles and k[1] != "/logout"}
    assert allowed == want, f"{who}: allowed {sorted(allowed ^ want)} differ"
    assert refused == set(EXPECTED) - want - {("POST", "/logout")}


EVENTS_CASES_AUDIT = [
    k
    for k in EXPECTED
    if k[1].startswith(
        ("/events", "/cases", "/pictures", "/audit", "/api/events", "/api/cases", "/api/pictures")
    )
]


@pytest.mark.parametrize(("method", "route"), EVENTS_CASES_AUDIT)
def test_a_resident_gets_403_on_every_events_cases_and_audit_route(
    ward: Ward, method: str, route: str
) -> None:
    client = ward.client("resident")
    path, body = example(ward, method, route)
    token = csrf_of(client, "/wall")
    if "data" in body:
        body = {"data": {**body["data"], "csrf": token}}  # type: ignore[dict-item]
    r = client.request(method, path, headers={"X-CSRF-Token": token}, **body)  # type: ignore[arg-type]
    assert r.status_code == 403


def test_an_unknown_path_is_404_for_everyone(ward: Ward) -> None:
    for who in ["anonymous", *ROLES]:
        assert ward.client(None if who == "anonymous" else who).get("/no/such/page").status_code == 404


def test_every_post_needs_the_csrf_token_and_this_sites_origin(ward: Ward) -> None:
    posts = [k for k in EXPECTED if k[0] == "POST"]
    for method, route in posts:
        who = next(iter(sorted(EXPECTED[(method, route)] - {"anonymous"})), None)
        client = ward.client(who)
        path, body = example(ward, method, route)
        r = client.request(method, path, **body)  # type: ignore[arg-type]
        assert r.status_code == 403, f"{path} without a token: {r.status_code}"
        assert "reload the page" in r.text
        token = csrf_of(client, "/login" if who is None else "/wall")
        if "data" in body:
            body = {"data": {**body["data"], "csrf": token}}  # type: ignore[dict-item]
        r = client.request(
            method, path, headers={"X-CSRF-Token": token, "Origin": "https://evil.example"}, **body
        )  # type: ignore[arg-type]
        assert r.status_code == 403, f"{path} from another site: {r.status_code}"


def test_the_audit_trail_names_the_logged_in_account_not_a_header(ward: Ward) -> None:
    from sqlalchemy import select

    from edge_agent.station.store.schema import audit

    police = ward.client("police")
    r = police.get("/api/events", params={"label": "car"}, headers={"X-Station-User": "somebody-else"})
    assert r.status_code == 200
    with ward.engine.connect() as conn:
        last = conn.execute(select(audit).order_by(audit.c.id.desc()).limit(1)).one()
    assert (last.actor, last.action) == ("police1", "search")


def test_the_policy_file_lists_no_route_twice() -> None:
    keys = [(m, r.path) for r in RULES for m in r.methods]
    assert len(keys) == len(set(keys))


def test_rules_and_expected_table_agree_role_by_role() -> None:
    for r in RULES:
        for m in r.methods - {"HEAD"}:
            roles = ANY if r.roles is None else {x.value for x in r.roles}
            assert roles == EXPECTED[(m, r.path)], (m, r.path)


def test_every_answer_carries_the_security_headers(ward: Ward) -> None:
    for who, path in ((None, "/login"), (None, "/fleet"), ("resident", "/audit"), ("police", "/events")):
        r = ward.client(who).get(path)
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"], path
        assert r.headers["x-content-type-options"] == "nosniff"


def test_logging_in_again_ends_the_old_session(ward: Ward) -> None:
    from tests.station.test_web_support import PASSWORD, TestClient, login

    c = TestClient(ward.app, base_url="https://testserver", follow_redirects=False)
    login(c, "volunteer1", PASSWORD)
    old = c.cookies.get("edge_station_session")
    token = csrf_of(c, "/login")
    r = c.post("/login", data={"csrf": token, "name": "volunteer1", "password": PASSWORD})
    assert r.status_code == 303
    stale = TestClient(ward.app, base_url="https://testserver", follow_redirects=False)
    stale.cookies.set("edge_station_session", old)
    assert stale.get("/fleet").status_code == 303  # back to the login page
    assert c.get("/fleet").status_code == 200
