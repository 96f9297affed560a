"""`edge-agent check-config` as a volunteer and a hostile tester run it: piped into `head`, with
passwords planted everywhere, and without importing OpenCV or onnxruntime."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.conftest import REPO, agent_command

CAMERA_PW = "CamPw-4711x"
BROKER_PW = "BrokerPw-0815y"
GOOD = f"""device_id = "pole17"
[camera]
source = "rtsp://admin:{CAMERA_PW}@10.0.0.5:554/stream1"
[mqtt]
url = "mqtts://broker.ward.example:8883"
username = "pole17"
password = "{BROKER_PW}"
"""


def run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        agent_command(*args),
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "edge-agent.toml"
    path.write_text(text)
    return path


# --- a closed pipe --------------------------------------------------------------------------


@pytest.mark.parametrize("args", [("check-config", "FILE"), ("--help",), ("check-config", "BAD")])
def test_a_reader_that_goes_away_ends_it_cleanly(tmp_path: Path, args: tuple[str, ...]) -> None:
    """The reader closes the pipe before edge-agent writes: every write meets EPIPE."""
    good, bad = write(tmp_path, GOOD), tmp_path / "bad.toml"
    bad.write_text("[camera]\nfps = 0\n")
    argv = [{"FILE": str(good), "BAD": str(bad)}.get(a, a) for a in args]
    proc = subprocess.Popen(
        agent_command(*argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ)
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    if args[-1] == "BAD":
        proc.stderr.close()  # `2>&1 | head -1`: the errors go into the closed pipe too
        stderr = ""
    else:
        stderr = proc.stderr.read().decode()
        proc.stderr.close()
    status = proc.wait(timeout=60)
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert status == (2 if args[-1] == "BAD" else 0)


def test_check_config_piped_into_head(tmp_path: Path) -> None:
    cmd = " ".join(map(str, agent_command("check-config", write(tmp_path, GOOD))))
    proc = subprocess.run(
        ["bash", "-o", "pipefail", "-c", f"{cmd} | head -1"], capture_output=True, text=True, timeout=60
    )
    assert proc.stdout.startswith("# ") and proc.stdout.rstrip().endswith(": valid")
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr


# --- secrets --------------------------------------------------------------------------------


def assert_no_password(*texts: str) -> None:
    for text in texts:
        assert CAMERA_PW not in text and BROKER_PW not in text, text


def test_check_config_masks_the_camera_password_like_the_broker_password(tmp_path: Path) -> None:
    proc = run("check-config", write(tmp_path, GOOD))
    assert proc.returncode == 0, proc.stderr
    assert '"source": "rtsp://admin:***@10.0.0.5:554/stream1"' in proc.stdout
    assert '"password": "********"' in proc.stdout
    assert_no_password(proc.stdout, proc.stderr)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        # credentials in the broker URL: refused without echoing them
        (GOOD.replace("mqtts://broker", f"mqtts://pole17:{BROKER_PW}@broker"), "mqtt.url"),
        (GOOD.replace("mqtts://broker", f"mqtts://{BROKER_PW}@broker"), "mqtt.url"),
        (GOOD.replace("mqtts://broker", f"mqtts://pole17:{BROKER_PW}@bro ker"), "mqtt.url"),
        # a camera URL the config refuses, with a password that holds a space
        (GOOD.replace(f":{CAMERA_PW}@", f":{CAMERA_PW} x@").replace(":554", ":99999"), "camera.source"),
        (GOOD.replace("10.0.0.5:554", "10.0.0.5:http"), "camera.source"),
        # the broker password echoed as another key's value
        (GOOD.replace('username = "pole17"', f'username = "{BROKER_PW}\\n"'), "mqtt.username"),
        (GOOD.replace('device_id = "pole17"', f'device_id = "{BROKER_PW}"'), "device_id"),
        # a broken file around the secrets
        (GOOD + "[camera\n", "invalid TOML"),
    ],
    ids=[
        "user-pw-in-url",
        "token-in-url",
        "space-in-host",
        "space-in-cam-pw",
        "bad-port",
        "username",
        "id",
        "toml",
    ],
)
def test_a_refused_config_never_echoes_a_password(tmp_path: Path, text: str, key: str) -> None:
    proc = run("check-config", write(tmp_path, text))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert key in proc.stderr, proc.stderr
    assert_no_password(proc.stdout, proc.stderr)


def test_the_reload_reply_never_echoes_a_password(tmp_path: Path) -> None:
    """`cmd/reload` puts the problems in its MQTT reply (and the journal)."""
    from edge_agent.agent.service import Service

    path = write(tmp_path, GOOD.replace("mqtts://broker", f"mqtts://pole17:{BROKER_PW}@broker"))
    reply = Service._cmd_reload(SimpleNamespace(config_path=path), {})  # type: ignore[arg-type]
    assert reply["ok"] is False and any(p.startswith("mqtt.url:") for p in reply["problems"])
    assert_no_password(repr(reply))


def test_a_password_from_the_environment_or_credentials_is_not_echoed(tmp_path: Path) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "mqtt_password").write_text(BROKER_PW + "\n")
    text = GOOD.replace(f'password = "{BROKER_PW}"\n', "").replace("pole17", BROKER_PW.lower()[:10] + "!")
    proc = run("check-config", write(tmp_path, text), env={"CREDENTIALS_DIRECTORY": str(creds)})
    assert proc.returncode == 2
    proc = run(
        "check-config",
        write(tmp_path, GOOD.replace(f'password = "{BROKER_PW}"\n', "")),
        env={"EDGE_AGENT_MQTT__PASSWORD": BROKER_PW, "EDGE_AGENT_DEVICE_ID": BROKER_PW},
    )
    assert proc.returncode == 2 and "device_id (from EDGE_AGENT_DEVICE_ID)" in proc.stderr
    assert_no_password(proc.stdout, proc.stderr)


# --- light imports --------------------------------------------------------------------------


@pytest.mark.skipif(
    bool(os.environ.get("EDGE_AGENT_TEST_PROBE")),
    reason="a kernel probe (EDGE_AGENT_TEST_PROBE) imports onnxruntime in every child on purpose",
)
def test_check_config_and_version_import_nothing_heavy(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    code = (
        "import sys, contextlib, io\n"
        "from edge_agent import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert cli.main(['check-config', {str(path)!r}]) == 0\n"
        "    try:\n"
        "        cli.main(['--version'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(','.join(m for m in ('cv2', 'numpy', 'onnxruntime', 'paho') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"check-config imported {proc.stdout.strip()}"


@pytest.mark.parametrize("password", ["Cam'Pw@47/11", "CamPw:4711!$&", "Cam\u00a0Pw4711", 'Cam"Pw4711'])
def test_a_camera_password_holding_odd_characters_is_never_printed(tmp_path: Path, password: str) -> None:
    """Quotes, '@', '/', ':' or a non-breaking space in the password: masked, or the URL refused."""
    text = GOOD.replace(CAMERA_PW, password.replace('"', '\\"'))
    proc = run("check-config", write(tmp_path, text))
    assert proc.returncode in (0, 2) and "Traceback" not in proc.stderr
    if proc.returncode == 0:
        assert '"source": "rtsp://admin:***@10.0.0.5:554/stream1"' in proc.stdout
    else:
        assert "camera.source: a camera URL must" in proc.stderr
    for part in (password, password[:7], password[-7:]):
        assert part not in proc.stdout + proc.stderr


def test_every_accepted_camera_url_is_masked_by_the_contracts_redact(tmp_path: Path) -> None:
    """The agent's own log lines use `contract.redact`: any camera URL the config accepts must
    be one it can mask."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from edge_agent import config
    from edge_agent.contract import redact

    rest = "camera rtsp://admin:***@10.0.0.5/stream1 lost"

    @settings(max_examples=200, deadline=None)
    @given(password=st.text(min_size=4, max_size=20).filter(lambda p: p not in rest))
    def check(password: str) -> None:
        try:
            cam = config.CameraConfig(source=f"rtsp://admin:{password}@10.0.0.5/stream1")
        except ValueError:
            return
        assert password not in redact(f"camera {cam.source} lost"), cam.source

    check()
