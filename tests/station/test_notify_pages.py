"""The alerts on the station's pages: the admin's page (channels masked, "send a test", every
skip's reason, "send again" for a dead letter), the snooze on a pole's page (audited), and on an
event's page who was told of its alarm and who acknowledged it."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from edge_agent.station.auth.accounts import add_user
from edge_agent.station.evidence import auditlog
from edge_agent.station.notify.acks import acknowledge, load_key
from edge_agent.station.store.ops import now_us
from tests.broker import free_port
from tests.station.notify_setup import Ward
from tests.station.receivers import HttpReceiver
from tests.station.test_web_support import CHEAP, PASSWORD, login

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
ACK = re.compile(r"/notify/ack/([0-9]+\.[0-9]+\.[A-Za-z0-9_-]+)")


def test_the_alerts_pages(tmp_path: Path) -> None:
    hook = HttpReceiver()
    gone = free_port()
    cfg = {
        "channels": [
            {"name": "hook", "url": f"json://127.0.0.1:{hook.port}/x"},
            {"name": "gone", "url": f"json://u:pw-secret-9@127.0.0.1:{gone}/x"},
        ],
        "subscriptions": [
            {"name": "to3", "channels": ["hook", "gone"], "kinds": ["alarm"], "group_window_s": 0}
        ],
        "retry": {"attempts": 1, "timeout_s": 1},
    }
    ward = Ward(tmp_path, f"sqlite:///{tmp_path / 's.db'}", cfg)
    try:
        for role in ("admin", "police", "volunteer"):
            add_user(ward.engine, f"{role}1", role, PASSWORD, "test", hasher=CHEAP)
        ward.put(now_us(), "edge/pole17/status", b"online")
        ward.alarm(now_us(), n=1)
        ward.stage.tick()
        app = ward.web_app()
        origin = {"Origin": "http://testserver"}

        def client(name: str) -> TestClient:
            c = TestClient(app, base_url="http://testserver", follow_redirects=False)
            login(c, name, PASSWORD)
            return c

        admin = client("admin1")
        page = admin.get("/notify")
        assert page.status_code == 200
        assert "json://127.0.0.1" in page.text and "pw-secret-9" not in page.text
        assert "to3" in page.text and "row-dead" in page.text and "row-sent" in page.text
        csrf = CSRF.search(page.text)[1]  # type: ignore[index]
        tested = admin.post("/notify/test", data={"csrf": csrf, "channel": "hook"}, headers=origin)
        assert tested.status_code == 200 and 'class="badge ok test-result"' in tested.text
        assert any("Thử kênh hook" in r.json()["title"] for r in hook.requests)
        failed = admin.post("/notify/test", data={"csrf": csrf, "channel": "gone"}, headers=origin)
        assert 'class="badge bad test-result"' in failed.text and "pw-secret-9" not in failed.text

        dead = next(r for r in ward.rows() if r.state == "dead")
        again = admin.post(f"/notify/{dead.id}/again", data={"csrf": csrf}, headers=origin)
        assert again.status_code == 303
        assert next(r for r in ward.rows() if r.id == dead.id).state == "pending"

        volunteer = client("volunteer1")
        pole = volunteer.get("/poles/pole17")
        vcsrf = CSRF.search(pole.text)[1]  # type: ignore[index]
        assert 'id="snooze"' in pole.text
        done = volunteer.post(
            "/poles/pole17/snooze",
            data={"csrf": vcsrf, "camera": "cam0", "for": "14400", "note": "tarp"},
            headers=origin,
        )
        assert done.status_code == 303
        assert "tarp" in volunteer.get("/poles/pole17").text
        assert volunteer.get("/notify").status_code == 403

        token = ACK.search(
            next(r for r in hook.requests if "Báo động" in r.json()["title"]).json()["message"]
        )[1]  # type: ignore[index]
        assert acknowledge(ward.engine, load_key(ward.settings.ack_key_path), token, "10.1.1.1", now_us()).ok
        police = client("police1")
        event = police.get("/events/pole17/pole17-cam0-000001")
        assert 'id="alarm-messages"' in event.text and "to3/hook" in event.text
        assert "đã xác nhận bởi" in event.text
        with ward.engine.connect() as conn:
            actions = [r.action for r in auditlog.rows(conn)]
        for action in ("notify-test", "notify-send-again", "notify-snooze", "alarm-acknowledged"):
            assert action in actions, actions
    finally:
        hook.close()
        ward.close()
