"""The pages' content, server side: fleet order and troubles, pole charts, maintenance, events,
event checks, cases and export, wall privacy, audit, accounts, live streams."""

from __future__ import annotations

import hashlib
import html
import io
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from edge_agent.contract import Topics
from edge_agent.station.config import WebConfig
from edge_agent.station.evidence.signing import load_or_create_key, public_key_pem
from edge_agent.station.evidence.verify import verify_bag
from edge_agent.station.fleet.maintenance import muting
from edge_agent.station.fleet.offline import OfflineAlerts
from edge_agent.station.store.ops import now_us
from edge_agent.station.store.schema import audit, cameras
from tests.station.factory import event, jpeg, thumbnail
from tests.station.test_web_support import Ward, csrf_of, make_ward, stats, store_messages


@pytest.fixture
def ward(tmp_path: Path) -> Iterator[Ward]:
    w = make_ward(tmp_path, web=WebConfig(public_poles=["pole1"], events_per_page=10, live_max_s=0.3))
    yield w
    w.engine.dispose()


def ids(html: str) -> list[str]:
    return re.findall(r'id="pole-([\w-]+)"', html)


def test_the_fleet_lists_poles_in_trouble_first_and_names_each_trouble(ward: Ward) -> None:
    t = Topics("edge", "pole4", "cam0")
    bad = stats(outbox_depth=900, disk_free_mb=120.0, fps_processed=4.0, camera_ok=False)
    store_messages(ward.engine, ward.store, [(t.status, b"online"), (t.stats, bad)], now_us())
    store_messages(ward.engine, ward.store, [event("pole1", 40, n=40)], now_us())  # seq 13..39 lost
    html = ward.client("volunteer").get("/fleet").text
    order = ids(html)
    assert order == ["pole2", "pole3", "pole4", "pole1"]  # offline, camera troubles, then seq gaps
    card = {p: html.split(f'id="pole-{p}"')[1].split("</li>\n")[0] for p in order}
    assert 'data-state="offline"' in card["pole2"] and "mất kết nối" in card["pole2"]
    assert all(f"t-{code}" in card["pole3"] for code in ("covered", "hot", "clock"))
    assert all(f"t-{code}" in card["pole4"] for code in ("camera-lost", "outbox", "disk", "fps"))
    assert "t-gaps" in card["pole1"] and "(27)" in card["pole1"]
    assert "1 cột" not in html and "4 cột" in html


def test_the_pole_page_has_24_hour_charts_health_history_and_the_maintenance_switch(ward: Ward) -> None:
    t = Topics("edge", "pole3", "cam0")
    store_messages(
        ward.engine, ward.store, [(t.stats, stats(temperature_c=70.0 + i)) for i in range(5)], now_us()
    )
    page = ward.client("volunteer").get("/poles/pole3").text
    assert page.count("<polyline") == 4  # fps, temperature, outbox, inference
    assert "lens covered" in page and "Bắt đầu bảo trì" in page
    assert "Bắt đầu bảo trì" not in ward.client("police").get("/poles/pole3").text  # police look only
    assert ward.client("volunteer").get("/poles/nope").status_code == 404


def test_maintenance_mutes_a_poles_offline_alert_until_it_is_turned_off(ward: Ward) -> None:
    sent: list[tuple[str, bytes]] = []

    def publish(topic: str, payload: bytes) -> bool:
        sent.append((topic, payload))
        return True

    vol = ward.client("volunteer")
    r = vol.post(
        "/poles/pole2/maintenance", data={"csrf": csrf_of(vol, "/fleet"), "on": "1", "note": "new cable"}
    )
    assert r.status_code == 303
    card = vol.get("/fleet").text.split('id="pole-pole2"')[1].split("</li>\n")[0]
    assert '<span class="badge maint">bảo trì: volunteer1</span>' in card
    alerts = OfflineAlerts(ward.engine, 180.0, 0.0, "station/alerts")
    alerts.check(now_us(), muting(ward.engine, publish))
    assert [t for t, _ in sent] == []  # pole2 is offline but muted
    vol.post("/poles/pole2/maintenance", data={"csrf": csrf_of(vol, "/fleet"), "on": "0"})
    alerts.check(now_us(), muting(ward.engine, publish))
    assert [t for t, _ in sent] == ["station/alerts/pole2"] and json.loads(sent[0][1])["active"] is True
    card = vol.get("/fleet").text.split('id="pole-pole2"')[1].split("</li>\n")[0]
    assert "đã báo động" in card and "badge maint" not in card
    r = vol.post("/poles/nope/maintenance", data={"csrf": csrf_of(vol, "/fleet"), "on": "1"})
    assert r.status_code == 404


def test_search_filters_pages_and_marks_unsynced_clocks(ward: Ward) -> None:
    police = ward.client("police")
    page = police.get("/events", params={"device": "pole3", "label": "car", "from": "", "zone": ""}).text
    items = re.findall(r'<li class="event( unsynced)?">', page)
    assert len(items) == 4 and all(items)  # pole3's clock was not synchronised
    first = police.get("/events", params={"all": "1"}).text
    assert first.count('<li class="event') == 10
    nxt = re.search(r'href="(/events\?[^"]*cursor=[^"]+)"', first)
    assert nxt is not None
    second = police.get(nxt.group(1).replace("&amp;", "&")).text
    a = set(re.findall(r'href="/events/([^"]+)"', first))
    b = set(re.findall(r'href="/events/([^"]+)"', second))
    assert len(b) == 10 and not a & b
    bad = police.get("/events", params={"from": "yesterday"}).text
    assert "is not an ISO 8601 time" in bad


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    params=st.lists(
        st.tuples(
            st.sampled_from(
                ["device", "label", "from", "to", "min_score", "zone", "line", "cursor", "stationary", "x"]
            ),
            st.text(max_size=40),
        ),
        max_size=6,
    )
)
def test_any_search_form_gets_a_page_never_a_server_error(ward: Ward, params: list[tuple[str, str]]) -> None:
    r = ward.client("police").get("/events", params=params)
    assert r.status_code == 200


def test_the_event_page_checks_every_thumbnail_again_and_shows_the_raw_messages(ward: Ward) -> None:
    police = ward.client("police")
    page = html.unescape(police.get("/events/pole1/pole1-cam0-000001").text)
    assert "sha256 đã kiểm tra" in page and '"schema": "edge-agent/event/1"' in page
    sha = re.search(r"/pictures/([0-9a-f]{64})\" alt=\"thumbnail", page).group(1)  # type: ignore[union-attr]
    path = ward.store.path(sha)
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")  # someone altered the stored picture
    page = police.get("/events/pole1/pole1-cam0-000001").text
    assert "KHÔNG khớp" in page
    assert police.get("/events/pole1/nope-cam0-000001").status_code == 404
    assert police.get(f"/pictures/{'0' * 64}").status_code == 404
    assert police.get("/pictures/not-a-hash").status_code == 404


def test_a_case_from_the_forms_exports_a_bag_that_verifies(ward: Ward) -> None:
    police = ward.client("police")
    name = "vụ trộm chợ Bến Thành"
    r = police.post("/cases", data={"csrf": csrf_of(police, "/cases"), "name": name, "reason": "trộm xe"})
    url = "/cases/" + quote(name, safe="")
    assert r.status_code == 303 and r.headers["location"] == url
    dup = police.post("/cases", data={"csrf": csrf_of(police, "/cases"), "name": name})
    assert "already exists" in dup.text
    for eid in ("pole3-cam0-002001", "pole3-cam0-002002"):
        token = csrf_of(police, f"/events/pole3/{eid}")
        r = police.post(f"/events/pole3/{eid}/case", data={"csrf": token, "case": name})
        assert r.status_code == 303
    token = csrf_of(police, url)
    police.post(f"{url}/remove", data={"csrf": token, "event": "pole3/pole3-cam0-002002"})
    police.post(f"{url}/hold", data={"csrf": token, "held": "0"})
    page = police.get(url).text
    assert "pole3-cam0-002001" in page and "pole3-cam0-002002" not in page and "không lưu giữ" in page
    r = police.post(f"{url}/export", data={"csrf": token})
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    out = ward.tmp / "downloaded"
    zipfile.ZipFile(io.BytesIO(r.content)).extractall(out)
    (bag,) = list(out.iterdir())
    report = verify_bag(bag, public_key_pem(load_or_create_key(ward.tmp / "station-ed25519.pem")))
    assert report.ok, report.messages
    assert any("pole3-cam0-002001" in str(p) for p in bag.rglob("*.json"))
    assert "đã kiểm tra: chữ ký và mọi tệp đều đúng" in police.get(url).text
    assert police.post("/cases/nope/export", data={"csrf": token}).status_code == 400


def test_the_wall_shows_only_public_poles_latest_snapshot(ward: Ward) -> None:
    resident = ward.client("resident")
    page = resident.get("/wall").text
    assert re.findall(r'data-tile="([^"]+)"', page) == ["pole1/cam0"]
    img = resident.get("/wall/pole1/cam0.jpg")
    assert img.status_code == 200 and img.content.startswith(b"\xff\xd8")
    with ward.engine.connect() as conn:
        sha = conn.execute(select(cameras.c.snapshot_sha256).where(cameras.c.device == "pole1")).scalar()
    assert hashlib.sha256(img.content).hexdigest() == sha
    assert resident.get("/wall/pole2/cam0.jpg").status_code == 404  # not public
    live = resident.get("/wall/live")
    assert live.headers["content-type"].startswith("text/event-stream")
    data = json.loads(re.search(r"event: wall\ndata: (.*)\n", live.text).group(1))  # type: ignore[union-attr]
    assert [{k: t[k] for k in ("device", "camera", "v")} for t in data] == [
        {"device": "pole1", "camera": "cam0", "v": sha[:16]}
    ]
    assert data[0]["at"].endswith("Z") and data[0]["at_text"].endswith("· +07")  # the ward's clock


def test_the_fleet_streams_its_list_as_server_sent_events(ward: Ward) -> None:
    live = ward.client("volunteer").get("/fleet/live")
    assert live.headers["content-type"].startswith("text/event-stream")
    assert "retry: " in live.text and "event: fleet\n" in live.text and 'id="pole-pole2"' in live.text


def test_the_audit_page_shows_the_chain_verified_and_names_a_broken_one(ward: Ward) -> None:
    admin = ward.client("admin")
    assert "Chuỗi đã kiểm tra" in admin.get("/audit").text
    with ward.engine.begin() as conn:
        conn.execute(update(audit).where(audit.c.id == 2).values(actor="someone-else"))
    page = admin.get("/audit").text
    assert "Chuỗi đã bị PHÁ VỠ" in page


def test_an_admin_creates_accounts_and_gets_one_clear_reason_for_a_bad_one(ward: Ward) -> None:
    admin = ward.client("admin")
    token = csrf_of(admin, "/users")
    r = admin.post("/users", data={"csrf": token, "name": "lan", "role": "volunteer", "password": "short"})
    assert r.status_code == 400 and "at least 10 characters" in r.text
    r = admin.post(
        "/users", data={"csrf": token, "name": "lan", "role": "volunteer", "password": "a long password"}
    )
    assert r.status_code == 303 and ">lan<" in admin.get("/users").text
    r = admin.post("/users/lan/disable", data={"csrf": token, "disabled": "1"})
    assert r.status_code == 303 and "đã khoá" in admin.get("/users").text


def test_english_on_request_and_vietnamese_by_default(ward: Ward) -> None:
    vol = ward.client("volunteer")
    assert "Các cột camera" in vol.get("/fleet").text
    r = vol.post("/language", data={"csrf": csrf_of(vol, "/fleet"), "lang": "en", "back": "/fleet"})
    assert r.status_code == 303 and r.headers["location"] == "/fleet"
    page = vol.get("/fleet").text
    assert "<h1>Fleet</h1>" in page and 'lang="en"' in page and "offline" in page
    vol.post("/language", data={"csrf": csrf_of(vol, "/fleet"), "lang": "vi", "back": "https://evil.example"})
    assert 'lang="vi"' in vol.get("/fleet").text


def test_thumbnails_of_an_event_that_arrive_late_show_once_they_are_stored(ward: Ward) -> None:
    pic = jpeg(77777)
    store_messages(ward.engine, ward.store, [event("pole1", 50, n=50, thumb=pic)], now_us())
    page = ward.client("police").get("/events/pole1/pole1-cam0-000050").text
    assert "ảnh nhỏ: đang chờ" in page
    store_messages(ward.engine, ward.store, [thumbnail("pole1", 50, pic)], now_us())
    page = ward.client("police").get("/events/pole1/pole1-cam0-000050").text
    assert "sha256 đã kiểm tra" in page and "đang chờ" not in page
