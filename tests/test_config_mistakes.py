"""Volunteers' config mistakes that used to pass `check-config` and crash (or silently do nothing)
later: each is now refused by `check-config` (a real subprocess, exit 2, the key named) and by
`config.load()`, which is what start-up and `cmd/reload` call."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel

from edge_agent import config
from tests.conftest import REPO, agent_command

BASE = 'device_id = "pole17"\n'
ZONE = '[[zones]]\nname = "crosswalk"\npolygon = [[0.1, 0.5], [0.9, 0.5], [0.9, 0.9], [0.1, 0.9]]\n'


def alarm(**keys: str) -> str:
    body = {"name": '"night"', "zone": '"crosswalk"', **keys}
    return ZONE + "[[alarms]]\n" + "".join(f"{k} = {v}\n" for k, v in body.items())


def check_config(path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        agent_command("check-config", path),
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


# (what the volunteer wrote, the key that must be named, words the message must hold)
MISTAKES = [
    (alarm(start='"12:60"'), "alarms[0].start", "HH:MM, from 00:00 to 23:59"),
    (alarm(start='"22:75"'), "alarms[0].start", "HH:MM"),
    (alarm(end='"25:00"'), "alarms[0].end", "HH:MM"),
    (alarm(start='"7:30"'), "alarms[0].start", "HH:MM"),
    (alarm(start='"22:00\\n"'), "alarms[0].start", "HH:MM"),
    (alarm(start='"22:00"', end='"22:00"'), "alarms[0]", "window would be empty"),
    (alarm(labels='["persn"]'), "alarms[0].labels", "known labels (detector.labels): person, bicycle"),
    (alarm(labels="[]"), "alarms[0].labels", "at least 1"),
    (alarm(zone='"crosswlak"'), "alarms[0].zone", "zones: crosswalk"),
    ('[detector]\nlabels = ["motorbike"]\n', "detector.labels", "known labels"),
    ('[detector]\nlabels = ["person", "person"]\n', "detector.labels", "more than once"),
    ("[detector]\nlabels = []\n", "detector.labels", "at least 1"),
    ("[detector]\nlabel_min_score = { persn = 0.3 }\n", "detector.label_min_score", "known labels"),
    ('[detector]\nmodel = "/nowhere/model.onnx"\n', "detector.model", "/nowhere/model.onnx does not exist"),
    ('[detector]\nmodel = "yolo.onnx"\n', "detector.model", "not a model shipped"),
    ('[detector]\nsha256 = "abc"\n', "detector.sha256", "pattern"),
    ("[camera]\nread_timeout_s = inf\n", "camera.read_timeout_s", "finite number"),
    ("[camera]\nreopen_min_s = 1e300\n", "camera.reopen_min_s", "less than or equal to 15"),
    ("[camera]\nreopen_min_s = 12\nreopen_max_s = 10\n", "camera.reopen_max_s", "reopen_min_s"),
    ("[camera]\nfps = nan\n", "camera.fps", "finite number"),
    ('[camera]\nsource = "usb:first"\n', "camera.source", "usb:N"),
    ('[camera]\nsource = "/nowhere/clip.mp4"\n', "camera.source", "/nowhere/clip.mp4 does not exist"),
    ('[camera]\nsource = "ftp://cam/x"\n', "camera.source", "rtsp://"),
    ("[motion]\ngain_blocks = [0, 0]\n", "motion.gain_blocks", "greater than or equal to 1"),
    ("[camera]\nwidth = 320\nheight = 240\n[motion]\nheight = 480\n", "motion.height", "must fit inside"),
    ('[mqtt]\nurl = "mqtts://broker:8883"\nca_file = "/nowhere/ca.crt"\n', "mqtt.ca_file", "/nowhere/ca.crt"),
    ('[mqtt]\nurl = "mqtts://broker:8883"\ncertfile = "/nowhere/c.pem"\n', "mqtt.certfile", "/nowhere/c.pem"),
    (
        '[mqtt]\nurl = "mqtts://b:8883"\ncertfile = "/etc/hostname"\nkeyfile = "/nowhere/k.pem"\n',
        "mqtt.keyfile",
        "/nowhere/k.pem does not exist",
    ),
    ('[mqtt]\nurl = "mqtts://broker:8883"\nca_file = "/etc/hostname"\n', "mqtt.ca_file", "not a PEM"),
    ('[mqtt]\nurl = "mqtts://broker:8883"\nkeyfile = "/etc/hostname"\n', "mqtt.keyfile", "without certfile"),
    ('[mqtt]\nurl = "mqtt://broker:1883"\nca_file = "/etc/hostname"\n', "mqtt.ca_file", "mqtts://"),
    ('[mqtt]\nurl = "mqtt://broker:1883\\n"\n', "mqtt.url", "must look like"),
    ('[mqtt]\nurl = "mqtt://bro ker:1883"\n', "mqtt.url", "must look like"),
    ('[mqtt]\nurl = "mqtt://broker:1883"\nusername = "pole\\u0000"\n', "mqtt.username", "control"),
    (
        '[mqtt]\nurl = "mqtt://broker:1883"\nreconnect_min_s = 90\nreconnect_max_s = 5\n',
        "mqtt.reconnect_max_s",
        "",
    ),
    ('[mqtt]\nprefix = "edge/+"\n', "mqtt.prefix", "no +, #"),
    ('[mqtt]\nprefix = "edge//x"\n', "mqtt.prefix", "empty levels"),
    ('[mqtt]\nprefix = "Edge"\n', "mqtt.prefix", "lower-case letters"),
    ('[homeassistant]\ndiscovery_prefix = "ha/+"\n', "homeassistant.discovery_prefix", "no +, #"),
    ('[homeassistant]\ndiscovery_prefix = "ha/#"\n', "homeassistant.discovery_prefix", "MQTT topic levels"),
    ('[homeassistant]\ndiscovery_prefix = ""\n', "homeassistant.discovery_prefix", "MQTT topic levels"),
    ('[homeassistant]\ndiscovery_prefix = "/ha"\n', "homeassistant.discovery_prefix", "MQTT topic levels"),
    ('[homeassistant]\ndiscovery_prefix = "ha\\u0000"\n', "homeassistant.discovery_prefix", "MQTT topic"),
    (f'[homeassistant]\ndiscovery_prefix = "{"h" * 65}"\n', "homeassistant.discovery_prefix", "MQTT topic"),
    ('[camera]\nid = "cam/0"\n', "camera.id", "pattern"),
    ('[camera]\nid = "cam0\\n"\n', "camera.id", "pattern"),
    ('[camera]\nid = "' + "c" * 65 + '"\n', "camera.id", "pattern"),
    ('[[lines]]\nname = "l"\na = [0.5, 0.5]\nb = [0.5, 0.5]\n', "lines[0]", "same point"),
    (ZONE + ZONE, "zones[1].name", "used twice"),
    ('state_dir = "/etc/hostname"\n', "state_dir", "not a directory"),
    ('_env_file = "/etc/passwd"\n', "_env_file", "unknown key"),
]
ISSUE_VALUES = (
    "12:60",
    "22:75",
    "25:00",
    "= inf",
    "1e300",
    "ca.crt",
    "persn",
    "motorbike",
    "1883\\n",
    "ha/+",
)


@pytest.mark.parametrize(("text", "key", "words"), MISTAKES, ids=[m[1] + " " + m[0][-30:] for m in MISTAKES])
def test_load_refuses_the_mistake_naming_the_key(tmp_path: Path, text: str, key: str, words: str) -> None:
    path = tmp_path / "edge-agent.toml"
    path.write_text(BASE + text)
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    hit = [p for p in err.value.problems if p.startswith(key)]
    assert hit and words in hit[0], err.value.problems


# The issue's own cases, through the real command (the others share its code path).
ISSUE_CASES = [m for m in MISTAKES if any(v in m[0] for v in ISSUE_VALUES)]


@pytest.mark.parametrize(("text", "key", "words"), ISSUE_CASES, ids=[m[1] for m in ISSUE_CASES])
def test_check_config_exits_2_naming_the_key(tmp_path: Path, text: str, key: str, words: str) -> None:
    path = tmp_path / "edge-agent.toml"
    path.write_text(BASE + text)
    proc = check_config(path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and f"  {key}" in proc.stderr, proc.stderr


def test_a_reload_with_a_bad_alarm_time_is_refused_and_the_agent_keeps_running(tmp_path: Path) -> None:
    """`cmd/reload` used to reply ok and then crash at the first person in the zone."""
    from types import SimpleNamespace

    from edge_agent.agent.service import Service

    path = tmp_path / "config.toml"
    path.write_text(BASE + alarm(start='"12:60"'))
    reply = Service._cmd_reload(SimpleNamespace(config_path=path), {})  # type: ignore[arg-type]
    assert reply["ok"] is False
    assert any(p.startswith("alarms[0].start:") and "HH:MM" in p for p in reply["problems"]), reply


def test_a_valid_alarm_window_is_kept_as_written(tmp_path: Path) -> None:
    from datetime import datetime, time

    from edge_agent.events.alarms import _hhmm, in_window

    path = tmp_path / "config.toml"
    path.write_text(BASE + alarm(start='"23:59"', end='"00:00"'))
    rule = config.load(path).alarms[0]
    assert _hhmm(rule.start) == time(23, 59) and _hhmm(rule.end) == time(0, 0)
    assert in_window(rule, datetime(2026, 12, 2, 23, 59, 30).astimezone())
    assert not in_window(rule, datetime(2026, 12, 2, 12, 0).astimezone())


# --- every number ----------------------------------------------------------------------------


def numeric_keys(model: type[BaseModel], prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted key, field info) of every number in the schema outside lists."""
    out = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out += numeric_keys(ann, f"{prefix}{name}.")
        elif ann in (int, float) or set(get_args(ann)) in ({float, type(None)}, {int, type(None)}):
            out.append((prefix + name, field))
    return out


NUMBERS = numeric_keys(config.Settings)


def test_every_number_has_a_lower_and_an_upper_bound() -> None:
    def bounds(field: Any) -> set[str]:
        return {
            k for m in field.metadata for k in ("ge", "gt", "le", "lt") if getattr(m, k, None) is not None
        }

    unbounded = [
        key for key, field in NUMBERS if not ({"ge", "gt"} & bounds(field) and {"le", "lt"} & bounds(field))
    ]
    assert len(NUMBERS) > 70
    assert unbounded == []


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e300", "-1e300", "9223372036854775807"])
def test_no_number_takes_a_hostile_value(tmp_path: Path, value: str) -> None:
    accepted = []
    for key, _field in NUMBERS:
        section, _, name = key.rpartition(".")
        text = BASE + (f"[{section}]\n{name} = {value}\n" if section else f"{name} = {value}\n")
        path = tmp_path / "c.toml"
        path.write_text(text)
        try:
            config.load(path)
        except config.ConfigError as err:
            assert any(p.startswith(key) for p in err.problems), err.problems
        else:
            accepted.append(key)
    assert accepted == [], f"{value} accepted for {accepted}"


def test_a_hostile_number_in_a_list_or_table_is_refused_too(tmp_path: Path) -> None:
    for text, key in [
        ("[detector]\nlabel_min_score = { person = nan }\n", "detector.label_min_score.person"),
        ('[[zones]]\nname = "z"\npolygon = [[0, 0], [inf, 0], [1, 1]]\n', "zones[0].polygon[1][0]"),
        ("[motion]\nmasks = [[[0, 0], [1, 0], [1, nan]]]\n", "motion.masks[0][2][1]"),
        ("[motion]\ngain_blocks = [8, 1e300]\n", "motion.gain_blocks[1]"),
    ]:
        path = tmp_path / "c.toml"
        path.write_text(BASE + text)
        with pytest.raises(config.ConfigError) as err:
            config.load(path)
        assert any(p.startswith(key) for p in err.value.problems), err.value.problems


def test_the_shipped_models_labels_are_the_known_labels() -> None:
    from edge_agent.config.files import model_labels, model_path

    names, source = model_labels(model_path(Path("nanodet-g-int8.onnx")))
    assert source.read_bytes() == (REPO / "models" / "labels.txt").read_bytes()
    assert len(names) == 80 and names[:4] == ["person", "bicycle", "car", "motorcycle"]
