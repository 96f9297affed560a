"""The pages in a real browser: Playwright driving Debian's chromium (never a downloaded one).

One station (a private mosquitto, the real ingest, the web app under uvicorn) and one browser for
the whole module. A failing test leaves a screenshot in `$EDGE_TEST_ARTEFACTS` (CI keeps that
folder) or else in pytest's temporary folder, and says where.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.station.test_web_support import PASSWORD, Ward, make_ward

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
LIVE_INTERVAL_S = 0.5
HOME = {"admin": "/fleet", "police": "/events", "volunteer": "/fleet", "resident": "/wall"}
NAV = {
    "admin": ["/fleet", "/wall", "/audit", "/users", "/notify"],
    "police": ["/fleet", "/events", "/cases", "/wall"],
    "volunteer": ["/fleet", "/wall"],
    "resident": ["/wall"],
}

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
)
if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)
if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
    pytest.skip("mosquitto is not installed (apt-get install mosquitto)", allow_module_level=True)


@dataclass
class Station:
    ward: Ward
    url: str
    broker_port: int
    artefacts: Path


POLE_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    import paho.mqtt.client as mqtt
    name, port = sys.argv[1], int(sys.argv[2])
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5)
    c.will_set(f"edge/{name}/status", b"offline", qos=1, retain=True)
    c.connect("127.0.0.1", port, keepalive=5)
    c.loop_start()
    c.publish(f"edge/{name}/status", b"online", qos=1, retain=True).wait_for_publish(10)
    stats = json.dumps({"fps_in": 10, "fps_processed": 10})
    c.publish(f"edge/{name}/stats", stats, qos=1).wait_for_publish(10)
    print("up", flush=True)
    while True:
        time.sleep(1)
    """
)


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Station]:
    import uvicorn

    from edge_agent.agent.demo import LocalBroker, free_port
    from edge_agent.station.config import WebConfig, load
    from edge_agent.station.fleet.live_look import LiveLook
    from edge_agent.station.ingest.archive import Archive
    from edge_agent.station.ingest.subscriber import Ingest
    from edge_agent.station.service import asker

    tmp = tmp_path_factory.mktemp("browser")
    broker = LocalBroker(shutil.which("mosquitto") or "/usr/sbin/mosquitto")
    ask: list[Callable[[str], bool]] = []  # the station's asker, once its ingest is up
    from edge_agent.station.store.footage_files import FootageFiles

    ward = make_ward(
        tmp,
        web=WebConfig(public_poles=["pole1"], live_interval_s=LIVE_INTERVAL_S, cookie_secure=True),
        look=LiveLook(lambda device: ask[0](device)),
        footage_files=FootageFiles(tmp / "footage"),
    )
    settings = load(
        None,
        overrides={
            "state_dir": str(tmp / "state"),
            "database": {"url": str(ward.engine.url)},
            "brokers": [{"url": f"mqtt://127.0.0.1:{broker.port}", "username": None}],
        },
    )
    ingest = Ingest(settings, Archive(ward.engine), ward.store)
    ingest.start()
    ask.append(asker(ingest))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(ward.app, host="127.0.0.1", port=port, log_level="warning"))
    server.config.timeout_graceful_shutdown = 1
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    artefacts = Path(os.environ.get("EDGE_TEST_ARTEFACTS") or tmp / "artefacts")
    artefacts.mkdir(parents=True, exist_ok=True)
    try:
        yield Station(ward, f"http://localhost:{port}", broker.port, artefacts)
    finally:
        server.should_exit = True
        thread.join(10)
        ingest.stop()
        broker.stop()
        ward.engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


def until(check: Callable[[], object], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout_s} s"
        time.sleep(0.1)


@contextmanager
def screenshot_on_failure(page: Any, station: Station, name: str) -> Iterator[None]:
    try:
        yield
    except BaseException:
        shot = station.artefacts / f"{name}.png"
        try:
            page.screenshot(path=str(shot), full_page=True)
            print(f"failure screenshot: {shot}", file=sys.stderr)
        except Exception as exc:  # the browser may be what failed
            print(f"no screenshot ({exc})", file=sys.stderr)
        raise


def new_page(browser: Any, station: Station, role: str | None, **context: Any) -> Any:
    ctx = browser.new_context(base_url=station.url, accept_downloads=True, **context)
    page = ctx.new_page()
    page.set_default_timeout(10_000)
    if role is not None:
        page.goto("/login")
        page.fill("input[name=name]", f"{role}1")
        page.fill("input[name=password]", PASSWORD)
        page.click("#login button[type=submit]")
        page.wait_for_url(f"**{HOME[role]}")
    return page


@pytest.mark.parametrize("role", ["admin", "police", "volunteer", "resident"])
def test_each_role_logs_in_and_sees_its_pages(browser: Any, station: Station, role: str) -> None:
    page = new_page(browser, station, None)
    with screenshot_on_failure(page, station, f"login-{role}"):
        page.goto("/events")
        assert "/login" in page.url  # not logged in: the login page, nothing else
        page.fill("input[name=name]", f"{role}1")
        page.fill("input[name=password]", PASSWORD)
        page.click("#login button[type=submit]")
        page.wait_for_load_state()
        links = page.eval_on_selector_all("header nav a", "els => els.map(e => e.getAttribute('href'))")
        assert links == NAV[role]
        for href in links:
            response = page.goto(href)
            assert response is not None and response.status == 200, href
            assert page.locator("main h1").first.is_visible()
        page.click("#logout")
        page.wait_for_url("**/login")
    page.context.close()


def test_stopping_a_pole_turns_it_offline_on_the_fleet_page_without_a_reload(
    browser: Any, station: Station
) -> None:
    pole = subprocess.Popen(
        [sys.executable, "-c", POLE_SCRIPT, "pole9", str(station.broker_port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    page = new_page(browser, station, "volunteer")
    try:
        with screenshot_on_failure(page, station, "fleet-offline"):
            assert pole.stdout is not None and pole.stdout.readline().strip() == "up"
            card = page.locator("#pole-pole9")
            sync_api.expect(card).to_have_attribute("data-state", "online", timeout=15_000)
            page.evaluate("window.__notReloaded = true")
            pole.kill()  # the broker sends the pole's will: offline
            sync_api.expect(card).to_have_attribute("data-state", "offline", timeout=10_000)
            assert page.evaluate("window.__notReloaded === true")
            sync_api.expect(card.locator(".badge.state")).to_contain_text("mất kết nối")
            # trouble first: the offline pole is above the healthy one
            order = page.eval_on_selector_all("li.pole", "els => els.map(e => e.id)")
            assert order.index("pole-pole9") < order.index("pole-pole1")
    finally:
        pole.kill()
        pole.wait(10)
        page.context.close()


# A pole that answers the snapshot command as the agent does: a retained JPEG, new each time.
ANSWERING_POLE = textwrap.dedent(
    """
    import sys, time
    import cv2, numpy as np
    import paho.mqtt.client as mqtt
    name, port = sys.argv[1], int(sys.argv[2])
    n = [0]
    def answer(c, userdata, msg):
        n[0] += 1
        img = np.full((120, 160, 3), (n[0] * 40) % 256, np.uint8)
        ok, jpg = cv2.imencode(".jpg", img)
        c.publish(f"edge/{name}/cam0/snapshot", jpg.tobytes(), qos=1, retain=True)
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5)
    c.on_message = answer
    c.connect("127.0.0.1", port, keepalive=5)
    c.subscribe(f"edge/{name}/cmd/snapshot", qos=1)
    c.loop_start()
    c.publish(f"edge/{name}/status", b"online", qos=1, retain=True).wait_for_publish(10)
    answer(c, None, None)  # its first snapshot
    print("up", flush=True)
    while True:
        time.sleep(1)
    """
)


def test_watch_live_on_a_pole_page_shows_a_new_picture_each_second(browser: Any, station: Station) -> None:
    pole = subprocess.Popen(
        [sys.executable, "-c", ANSWERING_POLE, "pole8", str(station.broker_port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    page = new_page(browser, station, "volunteer")
    try:
        with screenshot_on_failure(page, station, "live-look"):
            assert pole.stdout is not None and pole.stdout.readline().strip() == "up"
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:  # the station has archived its first snapshot
                page.goto(f"{station.url}/poles/pole8")
                if page.locator('img[data-cam="cam0"][src]').count():
                    break
                time.sleep(0.5)
            img = page.locator('img[data-cam="cam0"]')
            seen = {img.get_attribute("src")}
            page.click("#look")
            sync_api.expect(page.locator("#look")).to_have_attribute("aria-pressed", "true")
            deadline = time.monotonic() + 20
            while len(seen) < 4 and time.monotonic() < deadline:
                seen.add(img.get_attribute("src"))
                time.sleep(0.2)
            assert len(seen) >= 4, seen  # three new pictures while watching
            page.click("#look")  # stop: no more pictures are asked for
            sync_api.expect(page.locator("#look")).to_have_attribute("aria-pressed", "false")
            assert img.evaluate("el => el.naturalWidth") == 160  # a picture, not a broken image
    finally:
        pole.kill()
        pole.wait(10)
        page.context.close()


def test_a_search_finds_events(browser: Any, station: Station) -> None:
    page = new_page(browser, station, "police")
    with screenshot_on_failure(page, station, "search"):
        page.goto("/events")
        page.select_option("select[name=device]", ["pole1", "pole3"])
        page.check("input[name=label][value=person]")
        page.click("#search button[type=submit]")
        page.wait_for_load_state()
        items = page.locator("ul.grid li.event")
        assert items.count() == 8  # 4 person events on each of the two poles
        texts = items.all_inner_texts()
        assert all("người" in t and ("pole1" in t or "pole3" in t) for t in texts)
        assert page.locator("li.event.unsynced").count() == 4  # pole3's clock was not synchronised
        items.first.locator("a").click()
        page.wait_for_load_state()
        sync_api.expect(page.locator(".badge.verified").first).to_be_visible()
    page.context.close()


def test_an_events_clip_plays_to_its_end_on_the_event_page(browser: Any, station: Station) -> None:
    """Real H.264 segments pulled for pole1's third event: Chromium plays the remuxed clip to
    `ended`, and its duration is the segments' (the clip, not a frame of it)."""
    from edge_agent.station.footage.requests import status
    from edge_agent.station.store.footage_files import FootageFiles
    from tests.station.footage_fixture import pull_clip
    from tests.station.test_web_support import T0

    files = FootageFiles(station.ward.tmp / "footage")  # the web app's own footage folder
    start = T0 + timedelta(minutes=3)
    rid = pull_clip(station.ward.engine, files, station.ward.tmp / "pole1-footage", "pole1",
                    "pole1-cam0-000003", start)  # fmt: skip
    with station.ward.engine.connect() as conn:
        st = status(conn, rid)
    assert st is not None and st.state == "done"
    expected = sum((s.end_us - s.start_us) / 1e6 + 0.08 for s in st.segments)  # type: ignore[operator]
    page = new_page(browser, station, "police")
    with screenshot_on_failure(page, station, "clip"):
        page.goto("/events/pole1/pole1-cam0-000003")
        sync_api.expect(page.locator("#footage .clip-state").first).to_have_text("xong")
        video = page.locator("#footage video")
        sync_api.expect(video).to_have_count(1)
        probe = "document.querySelector('#footage video')"
        until(lambda: page.evaluate(f"{probe}.readyState") >= 1, 20)  # (the pages' CSP forbids eval)
        duration = page.evaluate(f"{probe}.duration")
        assert abs(duration - expected) < 0.5, (duration, expected)
        page.evaluate("v => { v.muted = true; v.playbackRate = 4; return v.play(); }", video.element_handle())
        until(lambda: page.evaluate(f"{probe}.ended"), 30)
        assert page.evaluate(f"{probe}.error") is None
    page.context.close()


def test_a_case_export_downloads_a_bag_that_verifies(browser: Any, station: Station, tmp_path: Path) -> None:
    from edge_agent.station.evidence.signing import load_or_create_key, public_key_pem
    from edge_agent.station.evidence.verify import verify_bag

    page = new_page(browser, station, "police")
    with screenshot_on_failure(page, station, "export"):
        page.goto("/cases/case-1")
        with page.expect_download() as info:
            page.click("#export button")
        zipped = tmp_path / info.value.suggested_filename
        info.value.save_as(zipped)
        with zipfile.ZipFile(zipped) as z:
            z.extractall(tmp_path / "bag")
        (bag,) = [p for p in (tmp_path / "bag").iterdir() if p.is_dir()]
        key = public_key_pem(load_or_create_key(station.ward.tmp / "station-ed25519.pem"))
        report = verify_bag(bag, key)
        assert report.ok, report.messages
        page.reload()
        sync_api.expect(page.locator("#exports .badge.verified").first).to_be_visible()
    page.context.close()


def test_a_resident_gets_403_on_every_events_cases_and_audit_page(browser: Any, station: Station) -> None:
    page = new_page(browser, station, "resident")
    with screenshot_on_failure(page, station, "resident-403"):
        for path in (
            "/events",
            "/events/pole1/pole1-cam0-000001",
            "/cases",
            "/cases/case-1",
            "/audit",
            "/api/events",
            "/api/cases",
            "/fleet",
            "/users",
        ):
            response = page.goto(path)
            assert response is not None and response.status == 403, path
        assert page.goto("/wall").status == 200  # type: ignore[union-attr]
        assert page.locator("ul.wall img").count() == 1  # only the public pole
    page.context.close()


def test_the_fleet_page_works_on_a_390_px_phone(browser: Any, station: Station) -> None:
    page = new_page(browser, station, "volunteer", viewport={"width": 390, "height": 844}, is_mobile=True)
    with screenshot_on_failure(page, station, "fleet-390"):
        page.goto("/fleet")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
        cards = page.locator("li.pole")
        assert cards.count() >= 3
        box = None
        for _ in range(50):  # the live list replaces its cards as it updates: ask again for the new one
            box = cards.first.bounding_box()
            if box is not None:
                break
            time.sleep(0.1)
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
        cards.first.locator("a.pole-link").click()
        page.wait_for_load_state()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.context.close()


def test_times_are_the_wards_even_when_the_browser_is_elsewhere(browser: Any, station: Station) -> None:
    """The browser in New York, the station in Ho Chi Minh City: a search typed in ward time finds
    the ward's events, and every page shows the ward's time with its offset (+07), the exact UTC
    instant kept in <time datetime>."""
    page = new_page(browser, station, "police", timezone_id="America/New_York", locale="en-US")
    with screenshot_on_failure(page, station, "local-time"):
        assert page.evaluate("new Date(Date.UTC(2026, 10, 22, 21, 1)).getHours()") == 16  # New York
        page.goto("/events?device=pole1&from=2026-11-23T04:00&to=2026-11-23T04:05:30")
        items = page.locator("ul.grid li.event")
        assert items.count() == 5  # the events of 21:01..21:05 UTC = 04:01..04:05 in the ward
        for i, text in enumerate(reversed(items.all_inner_texts()), start=1):
            assert f"04:0{i}:00 · +07" in text, text
        utc = page.eval_on_selector_all("li.event time", "els => els.map(e => e.getAttribute('datetime'))")
        assert sorted(utc) == [f"2026-11-22T21:0{i}:00Z" for i in range(1, 6)]
        items.first.locator("a").click()
        page.wait_for_load_state()
        assert "04:05:00 · +07" in page.locator("main p").first.inner_text()
        sync_api.expect(page.locator("#zone")).to_contain_text("Asia/Ho_Chi_Minh")
        page.goto("/events?device=pole3&label=car")
        sync_api.expect(page.locator("li.event .unsynced").first).to_contain_text("giờ của cột chưa đồng bộ")
        page.goto("/cases")
        assert "· +07" in page.locator("main table").inner_text()
    page.context.close()
