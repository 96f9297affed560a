"""Config: defaults, TOML, environment overrides, credentials, and one clear line per problem."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from edge_agent import config
from tests.conftest import agent_command

GOOD = """
device_id = "pole17"
[camera]
id = "cam0"
source = "rtsp://10.0.0.5/stream1"
[mqtt]
url = "mqtts://broker.ward.example:8883"
username = "pole17"
password = "s3cret"
[[zones]]
name = "crosswalk"
polygon = [[0.1, 0.5], [0.9, 0.5], [0.9, 0.9], [0.1, 0.9]]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_defaults_without_a_file() -> None:
    s = config.load(None)
    assert s.camera.id == "cam0"
    assert s.mqtt.prefix == "edge"
    assert s.detector.labels == ["person", "bicycle", "car", "motorcycle", "bus", "truck"]


def test_good_file(tmp_path: Path) -> None:
    s = config.load(write(tmp_path, GOOD))
    assert s.device_id == "pole17"
    assert s.camera.source == "rtsp://10.0.0.5/stream1"
    assert s.mqtt.password is not None and s.mqtt.password.get_secret_value() == "s3cret"
    assert s.zones[0].name == "crosswalk"


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGE_AGENT_MQTT__USERNAME", "from-env")
    monkeypatch.setenv("EDGE_AGENT_CAMERA__FPS", "5")
    s = config.load(write(tmp_path, GOOD))
    assert s.mqtt.username == "from-env"
    assert s.camera.fps == 5.0


def test_credentials_directory_fills_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "mqtt_password").write_text("from-systemd\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    s = config.load(write(tmp_path, 'device_id = "pole1"\n[mqtt]\nurl = "mqtt://localhost"\n'))
    assert s.mqtt.password is not None
    assert s.mqtt.password.get_secret_value() == "from-systemd"


def test_effective_config_masks_secrets(tmp_path: Path) -> None:
    data = config.effective(config.load(write(tmp_path, GOOD)))
    assert data["mqtt"]["password"] == "********"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('device_id = "p1"\n[mqtt]\nbogus = 1\n', "mqtt.bogus: unknown key; allowed here:"),
        ('device_id = "p1"\ncolour = "red"\n', "colour: unknown key"),
        ('device_id = "p1"\n[camera]\nfps = "fast"\n', "camera.fps: Input should be a valid number"),
        ('device_id = "p1"\n[camera]\nfps = -3\n', "camera.fps: Input should be greater than or equal"),
        ('device_id = "Pole 17"\n', "device_id: String should match pattern"),
        ('device_id = "p1"\n[mqtt]\nurl = "http://x"\n', "mqtt.url: must look like mqtt://"),
        ('device_id = "p1"\n[mqtt]\nurl = "mqtt://x:99999"\n', "mqtt.url: must look like"),
        (
            'device_id = "p1"\n[detector]\ninput_size = 400\n',
            "detector.input_size: Input should be a multiple of 32",
        ),
        (
            'device_id = "p1"\n[[zones]]\nname = "z"\npolygon = [[0.1, 0.1], [2.0, 0.1], [0.5, 0.5]]\n',
            "zones[0].polygon[1][0]: Input should be less than or equal to 1",
        ),
        ("device_id = \n", "invalid TOML"),
    ],
)
def test_each_problem_names_its_key(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(config.ConfigError) as err:
        config.load(write(tmp_path, text))
    assert any(expected in line for line in err.value.problems), err.value.problems


def test_several_problems_one_line_each(tmp_path: Path) -> None:
    text = 'device_id = "p1"\n[camera]\nfps = 0\nwidth = 1\n[mqtt]\nnope = true\n'
    with pytest.raises(config.ConfigError) as err:
        config.load(write(tmp_path, text))
    keys = sorted(line.split(":")[0] for line in err.value.problems)
    assert keys == ["camera.fps", "camera.width", "mqtt.nope"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError) as err:
        config.load(tmp_path / "absent.toml")
    assert "file not found" in err.value.problems[0]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        agent_command(*args),
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_check_config_cli_bad_file_exits_2_without_traceback(tmp_path: Path) -> None:
    bad = write(tmp_path, 'device_id = "p1"\n[mqtt]\nport = 70000\n[camera]\nfps = 0\n')
    proc = run_cli("check-config", str(bad))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "mqtt.port: unknown key" in proc.stderr
    assert "camera.fps: Input should be greater than or equal to 0.1" in proc.stderr


def test_check_config_cli_invalid_toml_and_missing(tmp_path: Path) -> None:
    proc = run_cli("check-config", str(write(tmp_path, "[camera\n")))
    assert proc.returncode == 2 and "invalid TOML" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("check-config", str(tmp_path / "nope.toml"))
    assert proc.returncode == 2 and "file not found" in proc.stderr


def test_check_config_cli_good_file_prints_masked_effective_config(tmp_path: Path) -> None:
    proc = run_cli("check-config", str(write(tmp_path, GOOD)))
    assert proc.returncode == 0, proc.stderr
    assert '"password": "********"' in proc.stdout
    assert "s3cret" not in proc.stdout


def test_bad_environment_value_names_the_key(tmp_path: Path) -> None:
    proc = run_cli("check-config", str(write(tmp_path, GOOD)), env={"EDGE_AGENT_CAMERA__FPS": "-1"})
    assert proc.returncode == 2
    assert "camera.fps" in proc.stderr


def test_shipped_example_config_is_valid() -> None:
    example = Path(__file__).resolve().parents[1] / "deploy" / "edge-agent.toml"
    s = config.load(example)
    assert s.device_id == "pole17" and s.zones[0].name == "crosswalk"


def test_the_configuration_reference_is_current() -> None:
    """docs/configuration.md's key table is what `scripts/config_reference.py` prints for these models."""
    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [sys.executable, str(repo / "scripts" / "config_reference.py")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(repo)},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    readme = (repo / "docs" / "configuration.md").read_text()
    missing = [line for line in proc.stdout.splitlines() if line.startswith("| `") and line not in readme]
    assert not missing, (
        f"docs/configuration.md's key table is stale (python scripts/config_reference.py): {missing[:3]}"
    )
