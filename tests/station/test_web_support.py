"""Shared pieces of the web tests (no tests here): a seeded ward, accounts of every role, logins."""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from argon2 import PasswordHasher
from sqlalchemy import Engine

import edge_agent.station.store.web_tables  # noqa: F401  (the tables join the archive's metadata)
from edge_agent.contract import Topics
from edge_agent.station.auth.accounts import add_user
from edge_agent.station.auth.guard import Guard
from edge_agent.station.config import WebConfig
from edge_agent.station.evidence.cases import add_events, open_case
from edge_agent.station.fleet.live_look import LiveLook
from edge_agent.station.ingest.archive import Archive, Received
from edge_agent.station.ingest.inbox import PictureRecord, classify
from edge_agent.station.store.footage_files import FootageFiles
from edge_agent.station.store.ops import now_us
from edge_agent.station.store.pictures import PictureStore
from edge_agent.station.web.app import create_web_app
from tests.station.factory import event, jpeg, thumbnail

with warnings.catch_warnings():  # starlette prefers httpx2; httpx is what the extra installs
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

ROLES = ("admin", "police", "volunteer", "resident")
PASSWORD = "correct horse battery staple"
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # tests only
T0 = datetime(2026, 11, 22, 21, 0, tzinfo=UTC)
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def store_messages(engine: Engine, store: PictureStore, msgs: list[tuple[str, bytes]], at_us: int) -> None:
    batch = []
    for i, (topic, payload) in enumerate(msgs):
        rec = classify("edge", topic, payload, 2**22)
        if isinstance(rec, PictureRecord):
            store.put(rec.data)
        batch.append(Received("ward", at_us + i, rec))
    Archive(engine).store(batch)


def stats(**extra: object) -> bytes:
    body = {
        "fps_in": 10.0,
        "fps_processed": 10.0,
        "inference_ms": 80.0,
        "temperature_c": 55.0,
        "disk_free_mb": 9000.0,
        "outbox_depth": 0,
        "camera_ok": True,
        "clock_synced": True,
    }
    body.update(extra)
    return json.dumps(body).encode()


def seed(engine: Engine, store: PictureStore, events_per_pole: int = 12) -> None:
    """A small ward: pole1 healthy, pole2 offline, pole3 covered, hot and with its clock unsynced."""
    now = now_us()
    msgs: list[tuple[str, bytes]] = []
    for d in ("pole1", "pole2", "pole3"):
        t = Topics("edge", d, "cam0")
        msgs.append((t.status, b"online"))
        msgs.append((t.snapshot, jpeg(5000 + int(d[-1]), 3000)))
    msgs.append((Topics("edge", "pole1", "cam0").stats, stats()))
    msgs.append((Topics("edge", "pole3", "cam0").stats, stats(temperature_c=81.0, clock_synced=False)))
    msgs.append(
        (
            Topics("edge", "pole3", "cam0").health,
            json.dumps(
                {"kind": "covered", "active": True, "detail": "lens covered", "camera": "cam0"}
            ).encode(),
        )
    )
    labels = ["person", "motorcycle", "car"]
    for k, d in enumerate(("pole1", "pole2", "pole3")):
        for i in range(1, events_per_pole + 1):
            n = k * 1000 + i
            pic = jpeg(n)
            msgs.append(thumbnail(d, n, pic))
            msgs.append(
                event(
                    d,
                    i,
                    n=n,
                    label=labels[i % 3],
                    start=T0 + timedelta(minutes=i),
                    thumb=pic,
                    zones=["crosswalk"] if i % 4 == 0 else [],
                    synced=d != "pole3",
                )
            )
    msgs.append((Topics("edge", "pole2", "cam0").status, b"offline"))
    store_messages(engine, store, msgs, now)


@dataclass
class Ward:
    engine: Engine
    store: PictureStore
    app: Guard
    tmp: Path
    clients: dict[str, TestClient] = field(default_factory=dict)

    def client(self, role: str | None) -> TestClient:
        """A client logged in as `<role>1` (None: not logged in)."""
        key = role or "anonymous"
        if key not in self.clients:
            c = TestClient(self.app, base_url="https://testserver", follow_redirects=False)
            if role is not None:
                login(c, f"{role}1", PASSWORD)
            self.clients[key] = c
        return self.clients[key]


def csrf_of(client: TestClient, path: str = "/login") -> str:
    m = CSRF.search(client.get(path).text)
    assert m, f"no CSRF token on {path}"
    return m.group(1)


def login(client: TestClient, name: str, password: str) -> object:
    token = csrf_of(client, "/login")
    return client.post("/login", data={"csrf": token, "name": name, "password": password})


def make_ward(
    tmp: Path,
    db_url: str | None = None,
    web: WebConfig | None = None,
    zone: str = "Asia/Ho_Chi_Minh",
    look: LiveLook | None = None,
    footage_files: FootageFiles | None = None,
) -> Ward:
    """A seeded ward whose pages show times in `zone` (Ho Chi Minh City: UTC+7, no daylight saving)."""
    from edge_agent.station.store.engine import connect

    engine = connect(db_url or f"sqlite:///{tmp / 'station.db'}")
    store = PictureStore(tmp / "pictures")
    seed(engine, store)
    for role in ROLES:
        add_user(engine, f"{role}1", role, PASSWORD, "test", hasher=CHEAP)
    open_case(engine, "case-1", "theft at the market", "police1")
    add_events(engine, "case-1", [("pole1", "pole1-cam0-000001"), ("pole1", "pole1-cam0-000002")], "police1")
    app = create_web_app(
        engine,
        store,
        web or WebConfig(public_poles=["pole1"], live_interval_s=0.5),
        station_id="ward-test",
        key_path=tmp / "station-ed25519.pem",
        exports_dir=tmp / "exports",
        zone=ZoneInfo(zone),
        look=look,
        footage_files=footage_files,
    )
    return Ward(engine, store, app, tmp)
