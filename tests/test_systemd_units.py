"""The service units: `systemd-analyze verify` is silent; exposure ≤ 3.0 (agent), ≤ 5 (provisioning)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# the services, and the Debian image's own (deploy/image: growing the root at first boot)
UNITS = sorted([*(REPO / "systemd").glob("*.service"), *(REPO / "deploy" / "image").glob("*.service")])
# The real paths exist only on a Pi: point them at a binary that exists here, nothing else.
STAND_INS = {
    "/opt/edge-agent/venv/bin/python": "/usr/bin/true",
    "/opt/edge-agent/deploy/provision.sh": "/usr/bin/true",
    "/opt/edge-agent/deploy/record-failure.sh": "/usr/bin/true",
    "/opt/edge-station/venv/bin/edge-agent": "/usr/bin/true",
    "/usr/local/sbin/edge-agent-growroot": "/usr/bin/true",
}
# The most `systemd-analyze security` may score each unit (0 = locked down, 10 = unsafe).
# Growing the root writes the disk's partition table: it keeps the raw block devices.
MAX_EXPOSURE = {
    "edge-agent.service": 3.0,
    "edge-agent-provision.service": 5.0,
    "edge-agent-growroot.service": 6.0,
}


def analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (package systemd)")
    return tool


@pytest.fixture
def unit_dir(tmp_path: Path) -> Path:
    for unit in UNITS:
        text = unit.read_text()
        for real, stand_in in STAND_INS.items():
            text = text.replace(real, stand_in)
        (tmp_path / unit.name).write_text(text)
    return tmp_path


def test_units_exist() -> None:
    assert {u.name for u in UNITS} == {
        "edge-agent.service",
        "edge-agent-provision.service",
        "edge-station.service",
        "edge-agent-growroot.service",
    }


def test_verify_prints_nothing(unit_dir: Path) -> None:
    tool = analyze()
    env = {**os.environ, "SYSTEMD_UNIT_PATH": f"{unit_dir}:"}
    proc = subprocess.run(
        [tool, "verify", "--man=no", *(str(unit_dir / u.name) for u in UNITS)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.stdout + proc.stderr == "", proc.stdout + proc.stderr
    assert proc.returncode == 0


def exposure(tool: str, unit: Path) -> float:
    """The overall exposure level `systemd-analyze security` gives a unit file."""
    proc = subprocess.run(
        [tool, "security", "--offline=yes", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert "Invalid syntax" not in proc.stderr, proc.stderr
    match = re.search(rf"Overall exposure level for {re.escape(unit.name)}: ([0-9.]+)", proc.stdout)
    assert match, proc.stdout + proc.stderr
    return float(match.group(1))


@pytest.mark.parametrize("name", sorted(MAX_EXPOSURE))
def test_exposure_score(unit_dir: Path, name: str) -> None:
    score = exposure(analyze(), unit_dir / name)
    print(f"{name}: exposure {score}")
    assert score <= MAX_EXPOSURE[name]


def test_agent_unit_has_the_promised_settings() -> None:
    text = (REPO / "systemd" / "edge-agent.service").read_text()
    for line in (
        "Type=notify",
        "WatchdogSec=",
        "Restart=always",
        "StartLimitAction=reboot",
        "DynamicUser=yes",
        "SupplementaryGroups=video",
        "StateDirectory=edge-agent",
        "ConfigurationDirectory=edge-agent",
        "ProtectSystem=strict",
        "LoadCredential=mqtt_password:",
        "RestartPreventExitStatus=2",
    ):
        assert line in text, line
    # the syscall filter must still let the agent read the clock state
    assert re.search(r"^SystemCallFilter=@system-service.*\badjtimex\b", text, re.M)
    # the installed command runs through the venv's python, never a script's #! line
    assert "ExecStart=/opt/edge-agent/venv/bin/python -m edge_agent run" in text


def test_no_optional_group_can_fail_the_agent() -> None:
    """`render` is missing on Debian without udev: naming it fails every start (216/GROUP)."""
    text = (REPO / "systemd" / "edge-agent.service").read_text()
    groups = re.findall(r"^SupplementaryGroups=(.*)$", text, re.M)
    assert groups and all("render" not in g.split() for g in groups)
    # the groups named are Debian's static `video` and the one install.sh creates
    install = (REPO / "deploy" / "install.sh").read_text()
    for group in " ".join(groups).split():
        assert group == "video" or f"CONFIG_GROUP={group}" in install, group


def test_provisioning_runs_once_per_boot_and_only_for_the_technicians_files() -> None:
    agent = (REPO / "systemd" / "edge-agent.service").read_text()
    provision = (REPO / "systemd" / "edge-agent-provision.service").read_text()
    wants = " ".join(re.findall(r"^(?:Wants|Requires|BindsTo)=(.*)$", agent, re.M))
    assert "edge-agent-provision" not in wants  # an agent restart must not pull it in again
    assert re.search(r"^After=.*edge-agent-provision\.service", agent, re.M)
    conditions = re.findall(r"^Condition\w+=\|?(.*)$", provision, re.M)
    technicians = ("/edge-agent.toml", "/edge-agent.secret", "/edge-agent-ssh.pub")
    assert conditions and all(c.endswith(technicians) for c in conditions)
    assert "*" not in "".join(conditions)  # a glob would match edge-agent.toml.example too
