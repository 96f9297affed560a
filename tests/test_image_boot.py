"""The arm64 pole image (deploy/build-image.sh) boots and works, emulated as a Cortex-A72 (Pi 4).

Run by hand and in the release steps (docs/development.md), not in CI: it takes minutes.

    sudo deploy/build-image.sh            # prints where the raw image is kept
    EDGE_AGENT_IMAGE=/var/cache/edge-agent-image/edge-agent-pole-<v>-arm64.img \\
        .venv/bin/python -m pytest -s tests/test_image_boot.py
    EDGE_AGENT_CPU=cortex-a53 EDGE_AGENT_MEM=512 …    # the same as a Pi Zero 2 W

The technician's files (configuration, password, SSH public key) go onto the image's real FAT
partition (mtools, at its offset) of a "card" 2 GiB larger than the image; the image's own kernel
and initramfs boot under `qemu-system-aarch64 -M virt -cpu cortex-a72`; a real mosquitto on the
host is reached from the guest at 10.0.2.2, the guest's SSH from here through QEMU's port forward.
Checked: provisioning took the files, the root grew to the card, the key logs in as `pole` (and
nothing else does), the agent comes `online` and publishes the demo clip's events, the same
events as this machine's replay of the clip, and a clean shutdown (power button) ends with
`offline`.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.broker import Broker, Subscriber, free_port
from tests.conftest import agent_command

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
CLIP = "/opt/edge-agent/venv/lib/python3.11/site-packages/edge_agent/demo/car-detection.mp4"
GROWN = 2 << 30  # the card is 2 GiB larger than the image
# a Pi 4 by default; EDGE_AGENT_CPU=cortex-a53 EDGE_AGENT_MEM=512 for a Zero 2 W (a Pi 3: 1024)
CPU = os.environ.get("EDGE_AGENT_CPU", "cortex-a72")
MEM_MB = os.environ.get("EDGE_AGENT_MEM", "2048")


def ssh(port: int, command: str, *options: str) -> subprocess.CompletedProcess[str]:
    """`command` run as the image's `pole` account through QEMU's port forward, with `options`."""
    return subprocess.run(
        [
            *("ssh", "-p", str(port), "-o", "BatchMode=yes", "-o", "ConnectTimeout=30"),
            *("-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"),
            *options,
            *("pole@127.0.0.1", command),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def image() -> Path:
    value = os.environ.get("EDGE_AGENT_IMAGE")
    if not value:
        pytest.skip(
            "run by hand: EDGE_AGENT_IMAGE=<raw .img from deploy/build-image.sh> (README, release steps)"
        )
    for tool in ("qemu-system-aarch64", "mcopy", "sfdisk", "ssh"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            pytest.skip(f"{tool} is not installed (apt install qemu-system-arm mtools fdisk openssh-client)")
    return Path(value)


def partition(img: Path, index: int) -> tuple[int, int]:
    """(start, size) in bytes of the image's partition `index` (0: boot, FAT; 1: root, ext4)."""
    table = json.loads(subprocess.run(["sfdisk", "--json", str(img)], check=True, capture_output=True).stdout)
    found = table["partitiontable"]["partitions"][index]
    return int(found["start"]) * 512, int(found["size"]) * 512


def fat_offset(img: Path) -> int:
    return partition(img, 0)[0]


def monitor_command(path: Path, command: str) -> None:
    """Run one QEMU monitor command, waiting for the prompt before and after it.

    Closing the socket right after sending loses the command: the monitor reads it only once its
    greeting has been taken (a power button that "did nothing" in an earlier version of this test).
    """
    with socket.socket(socket.AF_UNIX) as mon:
        mon.settimeout(30)
        mon.connect(str(path))
        seen = b""
        while not seen.endswith(b"(qemu) "):
            seen += mon.recv(4096)
        mon.sendall(command.encode() + b"\n")
        seen = b""
        while b"(qemu) " not in seen:
            seen += mon.recv(4096)


def starts(events: list[dict[str, object]]) -> Counter[str]:
    return Counter(str(e["label"]) for e in events if e["type"] == "start")


@pytest.fixture
def pole_image(tmp_path: Path, broker: Broker) -> Iterator[tuple[Path, Path, Path]]:
    src = image()
    img = tmp_path / "pole.img"
    subprocess.run(["cp", "--sparse=always", "--reflink=auto", str(src), str(img)], check=True)
    fat = f"{img}@@{fat_offset(img)}"
    names = subprocess.run(
        ["mdir", "-b", "-i", fat, "::/"], check=True, capture_output=True, text=True
    ).stdout
    boot_files = {Path(n).name for n in names.split()}
    kernel = sorted(n for n in boot_files if n.startswith("vmlinuz-"))[-1]
    initrd = sorted(n for n in boot_files if n.startswith("initrd.img-"))[-1]
    for name in (kernel, initrd):
        subprocess.run(["mcopy", "-n", "-i", fat, f"::/{name}", str(tmp_path / name)], check=True)
    assert "edge-agent-example.toml" in boot_files and "edge-agent.toml" not in boot_files
    # a larger card than the image: the root grows to fill it at first boot
    with img.open("r+b") as f:
        f.truncate(img.stat().st_size + GROWN)
    toml = (
        f'device_id = "pole1"\n[camera]\nsource = "{CLIP}"\n'
        f'[mqtt]\nurl = "mqtt://10.0.2.2:{broker.port}"\nusername = "pole1"\n'
    )
    (tmp_path / "edge-agent.toml").write_bytes(toml.replace("\n", "\r\n").encode())
    (tmp_path / "edge-agent.secret").write_bytes(b"pw-pole1\r\n")
    key = tmp_path / "technician"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    (tmp_path / "edge-agent-ssh.pub").write_bytes(key.with_suffix(".pub").read_bytes())
    for name in ("edge-agent.toml", "edge-agent.secret", "edge-agent-ssh.pub"):
        subprocess.run(["mcopy", "-i", fat, str(tmp_path / name), f"::/{name}"], check=True)
    yield img, tmp_path / kernel, tmp_path / initrd


def test_the_image_boots_provisions_publishes_and_shuts_down(
    pole_image: tuple[Path, Path, Path], broker: Broker, tmp_path: Path
) -> None:
    img, kernel, initrd = pole_image
    key = img.parent / "technician"
    port = free_port()
    image_root = partition(img, 1)[1]
    viewer = Subscriber(broker, ["edge/pole1/#"], client_id="image-viewer")
    monitor = tmp_path / "monitor.sock"
    console = tmp_path / "console.log"
    t0 = time.monotonic()
    qemu = subprocess.Popen(
        [
            *("qemu-system-aarch64", "-M", "virt", "-cpu", CPU, "-smp", "2", "-m", MEM_MB),
            *("-kernel", str(kernel), "-initrd", str(initrd)),
            *("-append", "root=LABEL=RASPIROOT rw console=ttyAMA0 net.ifnames=0 rootwait"),
            *("-drive", f"file={img},format=raw,if=virtio"),
            *("-netdev", f"user,id=net0,hostfwd=tcp:127.0.0.1:{port}-:22"),
            *("-device", "virtio-net-pci,netdev=net0"),
            *("-display", "none", "-serial", f"file:{console}"),
            *("-monitor", f"unix:{monitor},server,nowait"),
        ],
        stdin=subprocess.DEVNULL,
    )
    try:
        online = viewer.wait_for(lambda: any(m.payload == b"online" for m in viewer.on("status")), 600)
        assert online, console.read_text(errors="replace")[-4000:]
        print(f"online {time.monotonic() - t0:.0f} s after power-on")
        # the technician's key logs in (no password anywhere); sudo works; the root filled the card
        checks = "sudo systemctl is-active edge-agent; findmnt -bno SIZE /; sudo -n id -u"
        shell = ssh(port, checks, "-i", str(key), "-o", "LogLevel=ERROR")
        assert shell.returncode == 0, shell.stderr
        active, size, uid = shell.stdout.split()
        assert (active, uid) == ("active", "0")
        print(f"root file system {int(size) >> 20} MiB; the image's root partition {image_root >> 20} MiB")
        assert int(size) > image_root + GROWN * 9 // 10
        refused = ssh(port, "true", "-o", "PubkeyAuthentication=no")
        assert refused.returncode == 255 and "Permission denied (publickey)" in refused.stderr
        # the first pass over the clip: events until the agent's clean exit at its end (offline)
        passed = viewer.wait_for(lambda: any(m.payload == b"offline" for m in viewer.on("status")), 1500)
        assert passed, console.read_text(errors="replace")[-4000:]
        print(f"first pass over the clip done {time.monotonic() - t0:.0f} s after power-on")
        on_pi = [json.loads(m.payload) for m in viewer.on("events")]
        assert on_pi, "no events from the emulated pole"
        out = tmp_path / "x86"
        subprocess.run(
            agent_command("replay", REPO / "demo" / "car-detection.mp4", "--out", out, "--no-progress"),
            check=True,
            capture_output=True,
            timeout=600,
        )
        here = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
        print(f"events started: emulated {CPU}", dict(starts(on_pi)), "; this machine", dict(starts(here)))
        # clean shutdown: the power button (logind) powers the guest off; the agent says offline
        # the agent restarts for its next pass over the clip (a file source ends): power off then
        viewer.messages.clear()
        again = viewer.wait_for(lambda: any(m.payload == b"online" for m in viewer.on("status")), 300)
        assert again, console.read_text(errors="replace")[-4000:]
        viewer.messages.clear()
        monitor_command(monitor, "system_powerdown")
        qemu.wait(300)
        print(f"powered off {time.monotonic() - t0:.0f} s after power-on")
        assert "reboot: Power down" in console.read_text(errors="replace")
        assert [m.payload for m in viewer.on("status")] == [b"offline"]  # said by the agent, not its will
        fat = f"{img}@@{fat_offset(img)}"
        left = subprocess.run(["mdir", "-b", "-i", fat, "::/"], capture_output=True, text=True).stdout
        for name in ("edge-agent.toml", "edge-agent.secret", "edge-agent-ssh.pub"):
            assert name not in left  # provisioning took them
        # last, so that the checks above run either way: the detection issue's stability target
        # (2026-12-02, after detection round 2: car 3, bus 1 on both the emulated Cortex-A72 and x86)
        assert starts(on_pi) == starts(here)
    finally:
        viewer.close()
        if qemu.poll() is None:
            qemu.kill()
            qemu.wait(10)
