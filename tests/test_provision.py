"""First-boot provisioning against a fake root: modes, boot copies gone, idempotent, rejection."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import agent_command

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "deploy" / "provision.sh"
GOOD = 'device_id = "pole17"\r\n[mqtt]\r\nurl = "mqtts://broker.ward.example:8883"\r\nusername = "pole17"\r\n'


@pytest.fixture
def fake_root(tmp_path: Path) -> Path:
    (tmp_path / "boot" / "firmware").mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    agent = bin_dir / "edge-agent"  # the real CLI of this checkout
    agent.write_text(f'#!/bin/sh\nexec {sys.executable} -m edge_agent "$@"\n')
    agent.chmod(0o755)
    return tmp_path


def provision(root: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ROOT": str(root),
        "EDGE_AGENT": str(root / "bin" / "edge-agent"),
        "PYTHONPATH": str(REPO),
    }
    return subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=120)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    etc = root / "etc" / "edge-agent"
    return {p.name: (mode(p), p.read_bytes()) for p in sorted(etc.iterdir())}


def test_files_move_with_modes_and_boot_copies_go(fake_root: Path) -> None:
    boot = fake_root / "boot" / "firmware"
    (boot / "edge-agent.toml").write_text(GOOD)
    (boot / "edge-agent.secret").write_text("s3cret\r\n")
    proc = provision(fake_root)
    assert proc.returncode == 0, proc.stderr
    etc = fake_root / "etc" / "edge-agent"
    assert (etc / "config.toml").read_text() == GOOD.replace("\r", "")
    assert mode(etc / "config.toml") == 0o644
    assert (etc / "mqtt_password").read_text() == "s3cret"
    assert mode(etc / "mqtt_password") == 0o600
    if os.geteuid() == 0:
        assert (etc / "mqtt_password").stat().st_uid == 0
    assert not (boot / "edge-agent.toml").exists() and not (boot / "edge-agent.secret").exists()
    before = snapshot(fake_root)
    again = provision(fake_root)  # a second boot: nothing to take, nothing changes
    assert again.returncode == 0, again.stderr
    assert snapshot(fake_root) == before


def test_malformed_config_is_kept_aside_and_the_agent_refuses_to_start(fake_root: Path) -> None:
    boot = fake_root / "boot" / "firmware"
    (boot / "edge-agent.toml").write_text('device_id = "pole17"\n[mqtt]\nurl = "http://nope"\nport = 1\n')
    proc = provision(fake_root)
    assert proc.returncode == 0, proc.stderr
    etc = fake_root / "etc" / "edge-agent"
    assert "REJECTED" in proc.stderr and "mqtt.url" in proc.stderr  # the journal says why
    assert (etc / "config.toml.rejected").exists() and not (etc / "config.toml").exists()
    reasons = (etc / "config.rejected.txt").read_text()
    assert "mqtt.port: unknown key" in reasons and "edge-agent.toml" in reasons
    assert not (boot / "edge-agent.toml").exists()
    (etc / "config.toml").write_text('device_id = "pole17"\n')  # even with an older good config
    run = subprocess.run(
        agent_command("run", "--config", etc / "config.toml"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "rejected" in run.stderr and "mqtt.port: unknown key" in run.stderr
    assert "Traceback" not in run.stderr
    # the technician fixes the file: provisioning takes it and clears the rejection
    (boot / "edge-agent.toml").write_text(GOOD)
    assert provision(fake_root).returncode == 0
    assert not (etc / "config.rejected.txt").exists() and (etc / "config.toml").exists()
