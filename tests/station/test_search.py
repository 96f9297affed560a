"""Search and the JSON API on SQLite and PostgreSQL: filters, newest first, keyset pages, errors."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from edge_agent.station.api.app import create_app
from edge_agent.station.ingest.archive import Archive, Received
from edge_agent.station.ingest.inbox import PictureRecord, classify
from edge_agent.station.store.engine import connect
from edge_agent.station.store.pictures import PictureStore
from tests.station.factory import event, jpeg, thumbnail

with warnings.catch_warnings():  # starlette prefers httpx2; httpx is what the extra installs
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

T0 = datetime(2026, 11, 22, 21, 0, tzinfo=UTC)


@pytest.fixture
def archive(db_url: str, tmp_path: Path) -> Iterator[tuple[Engine, PictureStore]]:
    engine = connect(db_url)
    store = PictureStore(tmp_path / "pics")
    batch = []
    labels = ["person", "motorcycle", "car"]
    for i in range(1, 61):
        device = f"pole{1 + i % 2}"
        pic = jpeg(i)
        msgs = [
            thumbnail(device, i, pic),
            event(
                device,
                i,
                label=labels[i % 3],
                start=T0 + timedelta(minutes=i),
                thumb=pic,
                zones=["crosswalk"] if i % 5 == 0 else [],
                lines=["stopline"] if i % 7 == 0 else [],
                score=0.3 + (i % 7) / 10,
                stationary=i % 11 == 0,
            ),
        ]
        for topic, payload in msgs:
            rec = classify("edge", topic, payload, 2**22)
            if isinstance(rec, PictureRecord):
                store.put(rec.data)
            batch.append(Received("ward", 1, rec))
    Archive(engine).store(batch)
    yield engine, store
    engine.dispose()


def test_search_filters_and_pages_newest_first(archive: tuple[Engine, PictureStore]) -> None:
    engine, store = archive
    client = TestClient(create_app(engine, store))
    r = client.get(
        "/api/events",
        params={
            "device": "pole2",
            "label": "motorcycle",
            "from": "2026-11-22T21:00Z",
            "to": "2026-11-22T21:30Z",
        },
        headers={"X-Station-User": "officer-an"},
    )
    assert r.status_code == 200
    got = r.json()["events"]
    assert got and all(e["device"] == "pole2" and e["label"] == "motorcycle" for e in got)
    assert all("2026-11-22T21:00" <= e["start"] <= "2026-11-22T21:30" for e in got)
    assert [e["start"] for e in got] == sorted((e["start"] for e in got), reverse=True)
    assert all(e["thumbnail_status"] == "ok" and e["thumbnail_sha256"] for e in got)

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "7", **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/events", params=params).json()
        seen += [e["event_id"] for e in page["events"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 60

    zones = client.get("/api/events", params={"zone": "crosswalk"}).json()["events"]
    assert len(zones) == 12 and all("crosswalk" in e["zones"] for e in zones)
    lines = client.get("/api/events", params={"line": "stopline"}).json()["events"]
    assert len(lines) == 8
    still = client.get("/api/events", params={"stationary": "true", "min_score": "0.5"}).json()["events"]
    assert still and all(e["stationary"] and e["score"] >= 0.5 for e in still)

    detail = client.get(f"/api/events/pole2/{got[0]['event_id']}").json()
    assert detail["messages_received"][0]["clock_synced"] is True
    sha = detail["thumbnail_versions"][0]["sha256"]
    pic = client.get(f"/api/pictures/{sha}")
    assert pic.status_code == 200 and pic.content.startswith(b"\xff\xd8")


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"from": "yesterday"}, "from"),
        ({"cursor": "abc"}, "cursor"),
        ({"colour": "red"}, "unknown parameter"),
        ({"stationary": "maybe"}, "stationary"),
        ({"device": "pole1' OR 1=1 --"}, "devices"),
    ],
)
def test_bad_search_parameters_get_one_clear_message(
    archive: tuple[Engine, PictureStore], params: dict[str, str], needle: str
) -> None:
    engine, store = archive
    r = TestClient(create_app(engine, store)).get("/api/events", params=params)
    assert r.status_code == 400 and needle in r.json()["error"]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    params=st.dictionaries(
        st.sampled_from(["device", "label", "from", "to", "limit", "cursor", "min_score"]),
        st.text(max_size=30),
    )
)
def test_any_query_string_gets_json_never_a_crash(
    archive: tuple[Engine, PictureStore], params: dict[str, str]
) -> None:
    engine, store = archive
    r = TestClient(create_app(engine, store), raise_server_exceptions=True).get("/api/events", params=params)
    assert r.status_code in (200, 400)
    assert isinstance(r.json(), dict)


def test_cases_fleet_and_counters_over_the_api(archive: tuple[Engine, PictureStore]) -> None:
    engine, store = archive
    client = TestClient(create_app(engine, store))
    who = {"X-Station-User": "officer-an"}
    r = client.post("/api/cases", json={"name": "case-9", "reason": "hit and run"}, headers=who)
    assert r.status_code == 201
    assert client.post("/api/cases", json={"name": "case-9"}).status_code == 400  # exists
    assert client.post("/api/cases", content=b"not json").status_code == 400
    r = client.post("/api/cases/case-9", json={"events": ["pole1/pole1-cam0-000001"]}, headers=who)
    assert r.status_code == 400 and "not in the archive" in r.json()["error"]
    first = client.get("/api/events", params={"device": "pole2", "limit": "1"}).json()["events"][0]
    ref = f"pole2/{first['event_id']}"
    assert client.post("/api/cases/case-9", json={"events": [ref]}, headers=who).status_code == 200
    assert client.post("/api/cases/case-9", json={"held": False}, headers=who).status_code == 200
    case = client.get("/api/cases/case-9").json()
    assert case["events"] == [ref] and case["held"] is False and case["opened_by"] == "officer-an"
    assert client.get("/api/cases/nope").status_code == 404
    assert [c["name"] for c in client.get("/api/cases").json()["cases"]] == ["case-9"]
    poles = client.get("/api/fleet").json()["poles"]
    assert {p["device"] for p in poles} == {"pole1", "pole2"}
    assert client.get("/api/counters").json()["stored"] == 120
