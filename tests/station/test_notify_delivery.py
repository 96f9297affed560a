"""Never lost, never doubled: a receiver that answers 500, then hangs, then refuses gets the
message once when it recovers; one that never recovers makes a dead letter; a station stopped
between writing and sending sends once after its restart; acknowledge links work once."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from edge_agent.station.config import WebConfig
from edge_agent.station.evidence import auditlog
from edge_agent.station.notify.acks import acknowledge, load_key, make_token
from edge_agent.station.notify.stage import Notify
from edge_agent.station.store.notify_tables import notify_outbox
from edge_agent.station.store.ops import now_us
from edge_agent.station.store.pictures import PictureStore
from edge_agent.station.web.app import create_web_app
from tests.station.notify_setup import S, Ward
from tests.station.receivers import HttpReceiver

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

T0 = 1_796_105_600 * S
ACK = re.compile(r"/notify/ack/([0-9]+\.[0-9]+\.[A-Za-z0-9_-]+)")


@pytest.fixture
def hook() -> Iterator[HttpReceiver]:
    h = HttpReceiver()
    yield h
    h.close()


def config(*urls: str, **retry: object) -> dict[str, object]:
    names = [f"c{i}" for i in range(len(urls))]
    return {
        "channels": [{"name": n, "url": u} for n, u in zip(names, urls, strict=True)],
        "subscriptions": [{"name": "duty", "channels": names, "kinds": ["alarm"], "group_window_s": 0}],
        "retry": {"attempts": 4, "backoff_min_s": 1, "backoff_max_s": 8, "timeout_s": 1, **retry},
    }


def test_500_then_a_hang_then_refused_then_delivered_once(
    tmp_path: Path, db_url: str, hook: HttpReceiver
) -> None:
    dead = HttpReceiver(script=[500] * 10)
    ward = Ward(
        tmp_path, db_url, config(f"json://127.0.0.1:{hook.port}/a", f"json://127.0.0.1:{dead.port}/b")
    )
    try:
        hook.script[:] = [500, "hang"]
        ward.alarm(T0, thumb=False)
        ward.run(T0)  # 500
        first = {r.channel: r for r in ward.rows()}
        assert first["c0"].state == "pending" and "500" in first["c0"].reason, first["c0"].reason
        ward.run(T0 + 2 * S)  # the receiver hangs: a timeout
        assert {r.channel: r for r in ward.rows()}["c0"].attempts == 2
        hook.refuse()
        ward.run(T0 + 10 * S)  # refused
        refused = {r.channel: r for r in ward.rows()}["c0"]
        assert refused.state == "pending" and refused.attempts == 3
        assert "refused" in refused.reason.lower() or "connection" in refused.reason.lower(), refused.reason
        hook.resume()
        delivered = len(hook.requests)
        for t in range(20, 60, 10):
            ward.run(T0 + t * S)
        rows = {r.channel: r for r in ward.rows()}
        assert rows["c0"].state == "sent" and len(hook.requests) == delivered + 1, "delivered once"
        assert rows["c1"].state == "dead" and rows["c1"].attempts == 4 and "500" in rows["c1"].reason
    finally:
        dead.close()
        ward.close()


def test_a_station_stopped_before_or_while_sending_sends_once_after_restart(
    tmp_path: Path, db_url: str, hook: HttpReceiver
) -> None:
    ward = Ward(tmp_path, db_url, config(f"json://127.0.0.1:{hook.port}/a"))
    try:
        ward.alarm(T0, n=1, thumb=False)
        ward.alarm(T0, n=2, thumb=False)
        ward.stage.collect(T0)  # written to the outbox ... and the station is killed
        with ward.engine.begin() as conn:  # one was claimed for sending when it died
            first = conn.execute(select(notify_outbox.c.id).order_by(notify_outbox.c.id)).scalars().first()
            conn.execute(update(notify_outbox).where(notify_outbox.c.id == first).values(state="sending"))
        restarted = Notify(ward.engine, ward.settings, ward.store, ward.settings.zone[0])
        assert restarted.sender.recover() == 1
        for t in (1, 2, 3):
            restarted.collect(T0 + t * S)
            restarted.sender.send_due(T0 + t * S)
        assert len(hook.requests) == 2 and [r.state for r in ward.rows()] == ["sent", "sent"]
        keys = [r.headers["Idempotency-Key"] for r in hook.requests]
        assert len(set(keys)) == 2, "each message once, each with its own key"
    finally:
        ward.close()


def test_an_acknowledge_link_works_once(tmp_path: Path, db_url: str, hook: HttpReceiver) -> None:
    ward = Ward(tmp_path, db_url, config(f"json://127.0.0.1:{hook.port}/a"))
    t0 = now_us()  # the page checks the link's expiry against the real clock
    try:
        ward.alarm(t0, thumb=False)
        ward.run(t0)
        token = ACK.search(hook.requests[0].json()["message"])[1]  # type: ignore[index]
        key = load_key(ward.settings.ack_key_path)
        assert (ward.settings.ack_key_path.stat().st_mode & 0o777) == 0o600
        client = TestClient(ward.web_app(), base_url="http://testserver", follow_redirects=False)
        page = client.get(f"/notify/ack/{token}")
        assert page.status_code == 200 and "pole17" in page.text
        assert [r.ack_us for r in ward.rows()] == [None], "opening the link (a preview) acknowledges nothing"
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)[1]  # type: ignore[index]
        done = client.post(
            f"/notify/ack/{token}", data={"csrf": csrf}, headers={"Origin": "http://testserver"}
        )
        assert done.status_code == 200 and 'id="ack-done"' in done.text, done.text[:500]
        assert [r.ack_by for r in ward.rows()] == ["duty"]
        again = client.post(
            f"/notify/ack/{token}", data={"csrf": csrf}, headers={"Origin": "http://testserver"}
        )
        assert again.status_code == 409
        row_id = ward.rows()[0].id
        expired = make_token(key, int(row_id), int(t0 / S) - 10)
        assert acknowledge(ward.engine, key, expired, "10.0.0.5", t0).status == "expired"
        forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
        assert client.get(f"/notify/ack/{forged}").status_code == 403
        assert acknowledge(ward.engine, key, forged, "10.0.0.6", t0).status == "forged"
        other_station = make_token(b"x" * 32, int(row_id), int(t0 / S) + 3600)
        assert acknowledge(ward.engine, key, other_station, "10.0.0.7", t0).status == "forged"
        with ward.engine.connect() as conn:
            trail = [(r.action, r.detail) for r in auditlog.rows(conn)]
        actions = [a for a, _ in trail]
        assert actions.count("alarm-acknowledged") == 1 and actions.count("alarm-ack-refused") == 4
        assert any('"why":"expired"' in d for _, d in trail) and any('"why":"forged"' in d for _, d in trail)
    finally:
        ward.close()


def test_any_token_a_stranger_sends_is_refused_cleanly(tmp_path: Path) -> None:
    """The acknowledge route is open to anyone: whatever comes as a token is `forged`, never an
    exception (fuzzed), and the page answers 403, never 500."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from edge_agent.station.notify.acks import check_token
    from edge_agent.station.store.engine import connect

    engine = connect(f"sqlite:///{tmp_path / 'fuzz.db'}")
    key = load_key(tmp_path / "ack.key")
    app = create_web_app(
        engine,
        PictureStore(tmp_path / "p"),
        WebConfig(cookie_secure=False),
        station_id="w",
        key_path=tmp_path / "k.pem",
        exports_dir=tmp_path / "e",
        ack_key_path=tmp_path / "ack.key",
    )
    client = TestClient(app, base_url="http://testserver", follow_redirects=False)
    tokens = st.one_of(
        st.text(max_size=120),
        st.builds(
            lambda a, b, c: f"{a}.{b}.{c}",
            st.integers(-5, 10**20),
            st.integers(-5, 10**12),
            st.text(max_size=30),
        ),
    )

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(tokens)
    def one(token: str) -> None:
        with engine.connect() as conn:
            assert check_token(conn, key, token, 0).status == "forged"

    one()
    for token in ("1.2.x", "%00", "9" * 400, "1.99999999999.AAAAAAAAAAAAAAAAAAAAAAAA", "é.1.2"):
        assert client.get(f"/notify/ack/{token}").status_code == 403, token
    engine.dispose()
