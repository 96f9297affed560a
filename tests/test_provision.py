"""First-boot provisioning against a fake root: modes, boot copies gone, idempotent, rejection."""

from __future__ import annotations

import grp
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import agent_command

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "deploy" / "provision.sh"
# a group that exists here stands in for the agent's edge-agent-conf (made by install.sh)
GROUP = "video" if any(g.gr_name == "video" for g in grp.getgrall()) else grp.getgrgid(os.getgid()).gr_name
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


def provision(root: Path, path_first: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ROOT": str(root),
        "EDGE_AGENT": str(root / "bin" / "edge-agent"),
        "EDGE_AGENT_GROUP": GROUP,
        "PYTHONPATH": str(REPO),
    }
    if path_first is not None:
        env["PATH"] = f"{path_first}:{env['PATH']}"
    return subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=120)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    etc = root / "etc" / "edge-agent"
    return {p.name: (mode(p), p.read_bytes()) for p in sorted(etc.iterdir())}


def test_files_move_with_modes_and_boot_copies_go(fake_root: Path) -> None:
    boot = fake_root / "boot" / "firmware"
    (boot / "edge-agent.toml").write_bytes(b"\xef\xbb\xbf" + GOOD.encode())  # Notepad's BOM
    (boot / "edge-agent.secret").write_bytes(b"\xef\xbb\xbfs3cret\r\n")
    # a second name for the secret's data: shows whether it was overwritten before the delete
    # (a FAT partition keeps a deleted file's clusters readable)
    os.link(boot / "edge-agent.secret", fake_root / "secret-data")
    proc = provision(fake_root)
    assert proc.returncode == 0, proc.stderr
    etc = fake_root / "etc" / "edge-agent"
    assert (etc / "config.toml").read_text() == GOOD.replace("\r", "")
    if os.geteuid() == 0:  # readable by the agent's group only
        assert mode(etc / "config.toml") == 0o640
        assert (etc / "config.toml").stat().st_uid == 0
        assert grp.getgrgid((etc / "config.toml").stat().st_gid).gr_name == GROUP
    else:
        assert mode(etc / "config.toml") == 0o600
    assert (etc / "mqtt_password").read_text() == "s3cret"
    assert mode(etc / "mqtt_password") == 0o600
    if os.geteuid() == 0:
        assert (etc / "mqtt_password").stat().st_uid == 0
    assert not (boot / "edge-agent.toml").exists() and not (boot / "edge-agent.secret").exists()
    assert b"s3cret" not in (fake_root / "secret-data").read_bytes()
    assert sorted(p.name for p in etc.iterdir()) == ["config.toml", "mqtt_password"]  # no leftovers
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
    assert mode(etc / "config.rejected.txt") & 0o007 == 0  # not world-readable
    assert mode(etc / "config.toml.rejected") == 0o600
    assert not (boot / "edge-agent.toml").exists()
    on_card = (boot / "edge-agent.rejected.txt").read_bytes()  # the technician reads it in Notepad
    assert b"mqtt.port: unknown key" in on_card
    assert on_card.count(b"\n") == on_card.count(b"\r\n") > 2
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
    assert not (boot / "edge-agent.rejected.txt").exists()


def test_a_broken_install_is_not_blamed_on_the_config(fake_root: Path) -> None:
    """check-config failing with anything but exit 2 means the install is broken: exit 1, file kept."""
    boot = fake_root / "boot" / "firmware"
    (boot / "edge-agent.toml").write_text(GOOD)
    (fake_root / "bin" / "edge-agent").write_text(
        "#!/bin/sh\necho 'cannot execute: required file not found' >&2\nexit 126\n"
    )
    proc = provision(fake_root)
    assert proc.returncode == 1
    assert "installation is broken" in proc.stderr and "exit status 126" in proc.stderr
    etc = fake_root / "etc" / "edge-agent"
    assert not (etc / "config.rejected.txt").exists() and not (etc / "config.toml.rejected").exists()
    assert not (etc / "config.toml.new").exists()
    assert (boot / "edge-agent.toml").read_bytes() == GOOD.encode()  # taken at the next boot, once repaired


def test_a_secret_is_never_world_readable_even_when_provisioning_dies(
    fake_root: Path, tmp_path: Path
) -> None:
    boot = fake_root / "boot" / "firmware"
    (boot / "edge-agent.secret").write_text("s3cret\n")
    shims = tmp_path / "shims"
    shims.mkdir()
    failing_mv = shims / "mv"  # provisioning dies between writing the new password and moving it
    failing_mv.write_text("#!/bin/sh\nexit 1\n")
    failing_mv.chmod(0o755)
    proc = provision(fake_root, path_first=shims)
    assert proc.returncode != 0
    left = fake_root / "etc" / "edge-agent" / "mqtt_password.new"
    assert left.read_text() == "s3cret"
    assert mode(left) == 0o600
    assert (boot / "edge-agent.secret").exists()  # not deleted before it was safely installed


def test_an_oversized_config_is_refused_without_parsing(fake_root: Path) -> None:
    boot = fake_root / "boot" / "firmware"
    (boot / "edge-agent.toml").write_text(GOOD + "# " + "x" * 1_100_000 + "\n")
    proc = provision(fake_root)
    assert proc.returncode == 0, proc.stderr
    reasons = (fake_root / "etc" / "edge-agent" / "config.rejected.txt").read_text()
    assert "larger than 1 MB" in reasons


def ssh_key(tmp_path: Path, name: str) -> tuple[str, str]:
    """A fresh ed25519 key pair made by ssh-keygen: (public line, private file's text)."""
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen is not installed (apt install openssh-client)")
    key = tmp_path / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True)
    return key.with_suffix(".pub").read_text().strip(), key.read_text()


def test_the_technicians_ssh_keys_are_checked_and_installed(fake_root: Path, tmp_path: Path) -> None:
    first, _ = ssh_key(tmp_path, "laptop")
    second, _ = ssh_key(tmp_path, "phone")
    boot = fake_root / "boot" / "firmware"
    # Notepad: BOM, CRLF, a comment and a blank line
    text = f"\ufeff# Lan's keys\r\n{first}\r\n\r\n{second}"
    (boot / "edge-agent-ssh.pub").write_bytes(text.encode())
    proc = provision(fake_root)
    assert proc.returncode == 0, proc.stderr
    keys = fake_root / "etc" / "edge-agent" / "ssh_authorized_keys"
    assert keys.read_text() == f"{first}\n{second}\n"
    assert mode(keys) == 0o644  # sshd reads it for the pole account; it is public
    assert not (boot / "edge-agent-ssh.pub").exists()
    assert "2 SSH key(s) installed" in proc.stdout


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("private", "PRIVATE key"),
        ("ssh-ed25519 AAAAnot-base64 someone\n", "line 1 is not an OpenSSH public key"),
        ("# only a comment\n\n", "holds no key"),
        ("{good}\nhello\n", "line 2 is not an OpenSSH public key"),
        ("{good}\n" + "#" * 70_000, "larger than 64 kB"),
    ],
)
def test_a_wrong_ssh_key_file_is_refused_and_says_why_on_the_card(
    fake_root: Path, tmp_path: Path, content: str, reason: str
) -> None:
    good, private = ssh_key(tmp_path, "laptop")
    boot = fake_root / "boot" / "firmware"
    keys = fake_root / "etc" / "edge-agent" / "ssh_authorized_keys"
    keys.parent.mkdir(parents=True)
    keys.write_text("ssh-ed25519 AAAAC3earlier earlier\n")  # a key installed before is kept
    body = private if content == "private" else content.replace("{good}", good)
    (boot / "edge-agent-ssh.pub").write_text(body)
    os.link(boot / "edge-agent-ssh.pub", fake_root / "key-data")
    proc = provision(fake_root)
    assert proc.returncode == 0, proc.stderr
    assert reason in proc.stderr
    assert keys.read_text() == "ssh-ed25519 AAAAC3earlier earlier\n"
    assert reason in (boot / "edge-agent-ssh.rejected.txt").read_text()
    assert not (boot / "edge-agent-ssh.pub").exists()
    if content == "private":  # erased, not only unlinked: FAT keeps deleted clusters readable
        assert b"PRIVATE" not in (fake_root / "key-data").read_bytes()
    assert sorted(p.name for p in keys.parent.iterdir()) == ["mqtt_password", "ssh_authorized_keys"]


def record_failure(directory: Path, result: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DIR": str(directory), "SERVICE_RESULT": result}
    env.update(EXIT_CODE="killed", EXIT_STATUS="ABRT")
    script = REPO / "deploy" / "record-failure.sh"
    return subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env, timeout=60)


def test_why_the_agent_failed_is_kept_on_the_card_and_a_clean_stop_writes_nothing(tmp_path: Path) -> None:
    logs = tmp_path / "log"
    assert record_failure(logs, "success").returncode == 0
    assert not logs.exists()  # a clean stop: no write to the SD card
    assert record_failure(logs, "watchdog").returncode == 0
    first = (logs / "last-failure.txt").read_text()
    assert "result: watchdog; exit: killed ABRT" in first
    assert mode(logs / "last-failure.txt") == 0o600
    assert record_failure(logs, "exit-code").returncode == 0
    assert "result: exit-code" in (logs / "last-failure.txt").read_text()
    assert (logs / "last-failure.1.txt").read_text() == first
    assert all(p.stat().st_size <= 4096 for p in logs.iterdir())
    assert sorted(p.name for p in logs.iterdir()) == ["last-failure.1.txt", "last-failure.txt"]
