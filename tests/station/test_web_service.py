"""`edge-agent station run` serves the pages (once service.py and config.py are wired to the web
app), `edge-agent station adduser` creates accounts, and an open live page does not hold a stop."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from edge_agent.station.config import StationSettings

PASSWORD = "a demo password 1"

if "web" not in StationSettings.model_fields:
    pytest.skip(
        "config.py has no [web] section yet: the station is not wired to its pages", allow_module_level=True
    )
if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
    pytest.skip("mosquitto is not installed (apt-get install mosquitto)", allow_module_level=True)


def edge_agent() -> list[str]:
    script = Path(sys.executable).with_name("edge-agent")
    return [str(script)] if script.exists() else [sys.executable, "-m", "edge_agent"]


@pytest.fixture
def station(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    from edge_agent.agent.demo import LocalBroker, free_port

    broker = LocalBroker(shutil.which("mosquitto") or "/usr/sbin/mosquitto")
    port = free_port()
    conf = tmp_path / "station.toml"
    conf.write_text(
        f'state_dir = "{tmp_path / "state"}"\nlog_level = "warning"\n'
        f'[[brokers]]\nurl = "mqtt://127.0.0.1:{broker.port}"\n'
        f'[http]\nport = {port}\n[web]\npublic_poles = ["pole1"]\nlive_interval_s = 0.2\n'
    )
    add = subprocess.run(
        [
            *edge_agent(),
            "station",
            "adduser",
            "--config",
            str(conf),
            "vol",
            "--role",
            "volunteer",
            "--password-stdin",
        ],
        input=f"{PASSWORD}\n".encode(),
        capture_output=True,
        timeout=120,
    )
    assert add.returncode == 0, add.stderr.decode()
    proc = subprocess.Popen([*edge_agent(), "station", "run", "--config", str(conf)], stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/login", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    try:
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        broker.stop()


def test_station_run_serves_the_pages_behind_a_login_and_stops_with_a_live_page_open(
    station: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, proc = station
    # a plain-HTTP client keeps no Secure cookie: this test carries them by hand
    assert httpx.get(f"{url}/fleet").status_code == 303
    assert httpx.get(f"{url}/api/fleet").status_code == 401
    form = httpx.get(f"{url}/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    r = httpx.post(
        f"{url}/login",
        data={"csrf": token, "name": "vol", "password": PASSWORD},
        cookies={"edge_station_pre": form.cookies["edge_station_pre"]},
    )
    assert r.status_code == 303 and r.headers["location"] == "/fleet"
    assert "secure" in r.headers["set-cookie"].lower()
    cookies = {"edge_station_session": r.cookies["edge_station_session"]}
    assert httpx.get(f"{url}/fleet", cookies=cookies).status_code == 200
    assert httpx.get(f"{url}/events", cookies=cookies).status_code == 403
    opened = threading.Event()

    def follow() -> None:
        try:
            with httpx.stream("GET", f"{url}/fleet/live", cookies=cookies, timeout=30) as s:
                for _ in s.iter_lines():
                    opened.set()
        except httpx.HTTPError:
            pass

    threading.Thread(target=follow, daemon=True).start()
    assert opened.wait(10)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    # uvicorn ends by re-raising the SIGTERM it handled: -15 after a graceful stop, not a hang
    assert proc.wait(20) in (0, -signal.SIGTERM)
    assert time.monotonic() - t0 < 15
    assert b"Traceback" not in (proc.stderr.read() if proc.stderr else b"")
