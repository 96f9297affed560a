"""`station add-pole NAME`: the pole's broker password, and the lines for its SD card's boot partition."""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from pathlib import Path

NAME = re.compile(r"^[a-z0-9_-]{1,64}$")
DEFAULT_PASSWD = Path("/etc/mosquitto/edge-passwd")


class PoleError(ValueError):
    pass


def add_pole(name: str, passwd_file: Path) -> str:
    """Create (or replace) the pole's entry in mosquitto's password file; return the password."""
    if not NAME.match(name):
        raise PoleError(f"pole name {name!r}: use 1-64 of a-z 0-9 _ - (it is the pole's device_id)")
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        raise PoleError("mosquitto_passwd is not installed (apt install mosquitto)")
    password = secrets.token_urlsafe(24)
    passwd_file.parent.mkdir(parents=True, exist_ok=True)
    create = [] if passwd_file.exists() else ["-c"]
    proc = subprocess.run(
        [tool, *create, "-b", str(passwd_file), name, password], capture_output=True, text=True, timeout=30
    )
    if proc.returncode != 0:
        raise PoleError(
            f"mosquitto_passwd failed on {passwd_file}: {proc.stderr.strip() or proc.stdout.strip()}"
        )
    passwd_file.chmod(0o640)
    return password


def boot_lines(name: str, password: str, broker_url: str) -> str:
    return (
        f"# 1. the file edge-agent.secret on the pole's boot partition, this one line:\n{password}\n"
        f"# 2. in edge-agent.toml on the boot partition (device_id, and [mqtt] url/username):\n"
        f'device_id = "{name}"\n[mqtt]\nurl = "{broker_url}"\nusername = "{name}"\n'
        f"# then reload the broker: systemctl reload mosquitto\n"
    )
