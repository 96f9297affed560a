"""The config and secret files as volunteers' laptops write them (BOMs, UTF-16, Latin-1, CRLF),
files that are far too big or not files at all, and environment overrides that name the variable."""

from __future__ import annotations

import codecs
import os
import subprocess
from pathlib import Path

import pytest

from edge_agent import config
from tests.conftest import agent_command

GOOD = 'device_id = "pole17"\n[mqtt]\nurl = "mqtt://broker.ward.example:1883"\nusername = "pole17"\n'


def check_config(path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        agent_command("check-config", path),
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def problems(path: Path) -> list[str]:
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    return err.value.problems


# --- the TOML file ---------------------------------------------------------------------------


def test_a_utf8_bom_from_notepad_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "edge-agent.toml"
    path.write_bytes(codecs.BOM_UTF8 + GOOD.replace("\n", "\r\n").encode())
    proc = check_config(path)
    assert proc.returncode == 0, proc.stderr
    assert config.load(path).device_id == "pole17"


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_with_a_bom_are_converted(tmp_path: Path, codec: str) -> None:
    path = tmp_path / "edge-agent.toml"
    text = GOOD.replace("\n", "\r\n")
    data = text.encode(codec) if codec != "utf-16-be" else codecs.BOM_UTF16_BE + text.encode(codec)
    path.write_bytes(data)
    assert config.load(path).mqtt.username == "pole17"


def test_latin1_text_is_refused_with_where_and_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "edge-agent.toml"
    path.write_bytes(GOOD.encode() + '[camera]\nid = "caf\xe9"\n'.encode("latin-1"))
    proc = check_config(path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "is not UTF-8 text (byte 0xe9 at line 6, column 10)" in proc.stderr
    assert "Encoding: UTF-8" in proc.stderr


def test_a_30_mb_config_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "edge-agent.toml"
    point = "[0.5, 0.5], "
    with path.open("w") as fh:
        fh.write(GOOD + '[[zones]]\nname = "z"\npolygon = [')
        fh.write(point * (30_000_000 // len(point)))
        fh.write("[0.5, 0.5]]\n")
    proc = check_config(path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "a file is at most 1,000,000 bytes" in proc.stderr


def test_a_polygon_with_too_many_points_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "edge-agent.toml"
    points = ", ".join(f"[{i / 1000:.3f}, 0.5]" for i in range(101))
    path.write_text(GOOD + f'[[zones]]\nname = "z"\npolygon = [{points}]\n')
    assert any(p.startswith("zones[0].polygon: List should have at most 100 items") for p in problems(path))
    masks = ", ".join(["[[0, 0], [1, 0], [1, 1]]"] * 33)
    path.write_text(GOOD + f"[motion]\nmasks = [{masks}]\n")
    assert any(p.startswith("motion.masks: List should have at most 32 items") for p in problems(path))


def test_nesting_too_deep_for_the_parser_is_a_clean_error(tmp_path: Path) -> None:
    path = tmp_path / "edge-agent.toml"
    path.write_text("zones = " + "[" * 200_000)
    assert problems(path) == ["invalid TOML: arrays or tables nested too deeply"]


def test_what_is_not_a_regular_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    assert problems(Path("/dev/zero")) == ["is not a regular file (a device or a pipe?)"]
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    assert problems(fifo) == ["is not a regular file (a device or a pipe?)"]
    assert problems(tmp_path) == ["is a directory, not a TOML file"]


# --- the secret file (edge-agent.secret → $CREDENTIALS_DIRECTORY/mqtt_password) ------------


@pytest.mark.parametrize(
    "data",
    [
        codecs.BOM_UTF8 + b"s3cret-pw\r\n",
        "s3cret-pw\r\n".encode("utf-16"),
        # what provision.sh's `tr -d '\r\n'` leaves of a UTF-16 file: the line end's NUL bytes
        "s3cret-pw\r\n".encode("utf-16").replace(b"\r", b"").replace(b"\n", b""),
        b"  s3cret-pw \n",
    ],
    ids=["utf8-bom", "utf16", "utf16-after-tr", "blanks"],
)
def test_the_secret_file_loses_its_bom_and_line_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: bytes
) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "mqtt_password").write_bytes(data)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    path = tmp_path / "c.toml"
    path.write_text(GOOD)
    s = config.load(path)
    assert s.mqtt.password is not None and s.mqtt.password.get_secret_value() == "s3cret-pw"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ("s3cret-pw\xe9".encode("latin-1"), "is not UTF-8 text"),
        (b"s3cret-pw\x01\x02", "mqtt.password: must be one line"),
        (b"s3cret-pw\nsecond-line", "mqtt.password: must be one line"),
    ],
)
def test_a_bad_secret_file_is_named_and_not_echoed(tmp_path: Path, data: bytes, words: str) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "mqtt_password").write_bytes(data)
    path = tmp_path / "c.toml"
    path.write_text(GOOD)
    proc = check_config(path, env={"CREDENTIALS_DIRECTORY": str(creds)})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert words in proc.stderr
    assert "s3cret" not in proc.stderr + proc.stdout


# --- environment overrides -----------------------------------------------------------------


def test_an_environment_error_names_the_variable_not_the_file(tmp_path: Path) -> None:
    path = tmp_path / "password.toml"
    path.write_text(GOOD)
    proc = check_config(path, env={"EDGE_AGENT_CAMERA__FPS": "abc"})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "bad configuration in the environment:" in proc.stderr
    assert "camera.fps (from EDGE_AGENT_CAMERA__FPS): Input should be a valid number" in proc.stderr
    assert "password.toml" not in proc.stderr


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        (
            "EDGE_AGENT_ZONES",
            "not json",
            "zones (from EDGE_AGENT_ZONES): cannot be read from the environment",
        ),
        ("EDGE_AGENT_MOTION__MASKS", "[[[0, 0]", "(from EDGE_AGENT_MOTION__MASKS): cannot be read"),
        ("EDGE_AGENT_CAMERA_FPS", "5", "EDGE_AGENT_CAMERA_FPS: names no setting"),
        (
            "EDGE_AGENT_CAMERA__FRAMERATE",
            "5",
            "camera.framerate (from EDGE_AGENT_CAMERA__FRAMERATE): unknown key",
        ),
        (
            "EDGE_AGENT_CAMERA__READ_TIMEOUT_S",
            "inf",
            "(from EDGE_AGENT_CAMERA__READ_TIMEOUT_S): Input should",
        ),
        ("EDGE_AGENT_ZONES", "[" * 100_000, "EDGE_AGENT_ZONES"),
    ],
    ids=["json", "nested-json", "one-underscore", "unknown-key", "inf", "deep"],
)
def test_environment_mistakes_are_one_line_naming_the_variable(
    tmp_path: Path, name: str, value: str, words: str
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(GOOD)
    proc = check_config(path, env={name: value})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert words in proc.stderr, proc.stderr
